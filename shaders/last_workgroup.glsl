// The last-block pattern the fused tails share (the matvec's rmsnorm and rope_kv, attention's merge):
// every workgroup makes its stores visible, then counts itself done; the one that counts last sees
// every counted workgroup's stores and runs the tail, so the tail needs no dispatch of its own.
// The includer declares `coherent buffer ... { uint done[]; }`: zeroed counters, left 0 again.
#ifndef R1VK_LAST_WORKGROUP_GLSL
#define R1VK_LAST_WORKGROUP_GLSL

shared uint lw_last;  // this workgroup counted last

// Whether this workgroup is the last of the `total` that count themselves in done[ci]. Every one calls
// it once, after its stores. The last zeroes the counter for the next dispatch (every other has
// counted already). Uniform across the workgroup, so the tail it guards may use barrier().
bool last_to_finish(uint ci, uint total) {
    memoryBarrierBuffer();
    barrier();
    if (gl_LocalInvocationIndex == 0u) {
        lw_last = (atomicAdd(done[ci], 1u) + 1u == total) ? 1u : 0u;
        if (lw_last != 0u) done[ci] = 0u;
    }
    barrier();
    if (lw_last == 0u) return false;
    memoryBarrierBuffer();
    return true;
}

#endif
