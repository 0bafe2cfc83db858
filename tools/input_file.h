// Reading the files the CLI is given, so that no input is ever misread: a program is parsed as
// text, a fuzz input is decoded under the protocol it was produced for, and anything else is a
// clear error (exit 2) before a model or a target is built.
#pragma once
#include <string>

#include "core/program_files.h"

namespace lockstep::tools {

using lockstep::InputError;  // core/program_files.h

struct InputFile {
  std::string path;
  std::string bytes;
  bool text = false;  // a readable program: `.txt`, or any file whose first line is a header
  // The protocol the file says it belongs to: a program's header, or for a fuzz input the
  // context it was found in (inferred_protocols). Empty when nothing says.
  std::string protocol;
  std::string protocol_source;  // how `protocol` was learnt, for the user ("header", ...)
};

// Reads a regular file (a directory, FIFO, device or empty file is an InputError; a FIFO is
// never opened, so nothing hangs). A `.txt` file must be a UTF-8 program with a
// `# lockstep <protocol>` header (a BOM, blank lines and comments may come first).
InputFile read_input(const std::string& path);

// Called in a catch block: the message of the error being handled, met while reading `path`:
// an InputError's own (it names its file), a ParseError's LINE:COL: what behind "PATH:", any
// other exception's what() behind "PATH: ".
std::string input_error_message(const std::string& path);

// The fuzz target a binary input came from, learnt from where it lies: a corpus directory
// (`mshv_device`, `vhost_postcopy`), a fuzz target's name in the path (`fuzz_vhost_postcopy`,
// e.g. a libFuzzer `-artifact_prefix`), or an AFL++ output directory whose `fuzzer_stats`
// names the target in its command line. Empty when the context says nothing.
std::string protocol_from_context(const std::string& path);

// Creates the directory `path` (and its parents) if absent; InputError ("PATH: why", naming
// `option`) unless it then is a directory this process may write to. Called before a command
// does its work, so a bad output path is refused at once.
void prepare_output_dir(const std::string& path, const std::string& option);

// Reads a program given on stdin or in a file for `fmt` (same rules as read_input, `-` is
// stdin).
std::string read_text(const std::string& path);

}  // namespace lockstep::tools
