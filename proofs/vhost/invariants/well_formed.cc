// Clause: auxiliary: regions <= 8, registered => regions, awaiting_ack => listening, a closed
// connection holds nothing (D1). Bounds: proofs/vhost/encoding.h (<= 8 regions, <= 12 fds per send,
// one message per op). Auxiliary (strengthening for the others). Expected: k = 1, < 100 ms per
// profile.
#include "proofs/vhost/invariant.h"

namespace lockstep::vhost::proofs {

Invariant well_formed() {
  return lockstep::proofs::well_formed_invariant<Encoding>(
      "auxiliary: regions <= 8, registered => regions, awaiting_ack => listening, a closed "
      "connection holds nothing (D1)");
}

}  // namespace lockstep::vhost::proofs
