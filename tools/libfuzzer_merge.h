// Edge coverage for `lockstep corpus min`, measured by libFuzzer itself: the fuzz target binary
// (build/fuzz preset, fuzz/fuzz_<target>) is run as `BINARY -merge=1 -merge_control_file=CF OUT
// IN` over the inputs, and the features libFuzzer recorded for each input are read back from the
// control file (its "FT <file> <feature>..." lines; an input with "STARTED" and no "FT" crashed
// the target). libFuzzer's merge is crash-resistant: it restarts the target after a crash.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace lockstep::tools {

// The machine lacks what the measurement needs (exit 3): no such binary, or it did not merge.
struct EnvironmentError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct EdgeCoverage {
  std::vector<std::vector<uint32_t>> features;  // per input, in the order given
  size_t crashed = 0;                           // inputs the target crashed on (no features)
};

// `inputs` are the fuzz-input bytes; an empty string is an input libFuzzer is not given (a
// program with no binary form), which gets no features. Throws EnvironmentError.
EdgeCoverage libfuzzer_features(const std::string& binary, const std::vector<std::string>& inputs);

// The fuzz binary of a corpus target (`kCorpus`: mshv_device, vhost_postcopy) in this checkout's
// build/fuzz tree or the current directory's, if it is there and executable; "" otherwise.
std::string find_fuzz_binary(const std::string& corpus_target);

}  // namespace lockstep::tools
