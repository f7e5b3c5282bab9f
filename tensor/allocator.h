// How the programs ask the C library to manage the memory of large matrices.
#pragma once

namespace mwb {

// A forward pass allocates and frees matrices of megabytes (activations, attention
// scores, logits) at every block and every run. By default glibc serves each from
// fresh pages mapped for it and hands them back when freed, so every run pays for the
// page faults and the zeroing again (a quarter of a 512-token prefill of a GPT-2-small
// shape on two cores). This keeps allocations up to 32 MB on the heap and freed memory
// there for the next run: the resident size stays at its peak instead of shrinking.
// Called once at the start of a program (mwb, workbench, the benchmarks).
void keepFreedMemoryForReuse();

}  // namespace mwb
