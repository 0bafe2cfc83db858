// Auxiliary invariant: the bounded state is well formed. Handle counts stay within the bounds;
// slots beyond a count are untouched (no fd open, no reference, device not live, no files);
// a device's fd is known only while it is live; a device's partition index names an opened
// partition; listed files are opened ones. Not a spec clause: it is the strengthening
// partition_refcount's inductive step needs, proved here by plain induction (every profile,
// mutants included).
// Bounds: proofs/mshv/encoding.h. Expected runtime: k = 1, a few ms per profile.
#include "proofs/mshv/invariant.h"

namespace lockstep::mshv::proofs {

Invariant well_formed() {
  return lockstep::proofs::well_formed_invariant<Encoding>(
      "auxiliary: bounded state is well formed (slots beyond counts untouched)");
}

}  // namespace lockstep::mshv::proofs
