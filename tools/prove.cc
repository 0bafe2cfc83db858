#include "tools/prove.h"

#include <iostream>
#include <stdexcept>

#include "proofs/driver.h"
#include "proofs/mshv/binding.h"
#include "proofs/vhost/binding.h"
#include "tools/bindings.h"

namespace lockstep::tools {

int prove(const ProveOptions& o) {
  try {
    return with_binding(o.protocol, [&](auto binding) {
      using Proofs = typename decltype(binding)::Proofs;
      return lockstep::proofs::prove<Proofs>(decltype(binding)::kName, o.profile, o.json,
                                             o.emit_corpus);
    });
  } catch (const std::invalid_argument& e) {
    std::cerr << "prove: " << e.what() << "\n";
    return 2;
  }
}

}  // namespace lockstep::tools
