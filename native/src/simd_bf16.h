// AVX-512 pieces the fused bf16 kernels share (small_linear.cc, decode_attention.cc,
// lora_epilogue.cc): the function-target attributes (the addon is built for any x86-64, and the
// kernels run only where fused_kernels.h says the CPU has the instructions), bf16 <-> float32
// conversions 16 lanes at a time, and a float32 dot product. x86-64 only.
#pragma once
#if defined(__x86_64__)
// GCC 12 flags the intrinsics' own undefined-register idiom in avx512fintrin.h.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <cstdint>

#define WORDLE_AVX512_TARGET __attribute__((target("avx512f,avx512bw,avx512vl")))
#define WORDLE_BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

namespace wordle {

// 16 bf16 values (bits) as float32: exact, a bf16 is the top half of a float32.
WORDLE_AVX512_TARGET inline __m512 bf16ToFloat(__m256i bits) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(bits), 16));
}

WORDLE_AVX512_TARGET inline __m512 loadBf16x16(const uint16_t* p) {
  return bf16ToFloat(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

// float32 -> bf16 bits, round to nearest even, NaN kept NaN (c10::BFloat16's rule, 16 at a time).
WORDLE_AVX512_TARGET inline __m256i roundToBf16(__m512 v) {
  const __m512i bits = _mm512_castps_si512(v);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
  const __m512i rounded = _mm512_add_epi32(bits, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7FFF)));
  const __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
  const __m512i shifted = _mm512_mask_mov_epi32(_mm512_srli_epi32(rounded, 16), nan, _mm512_set1_epi32(0x7FC0));
  return _mm512_cvtepi32_epi16(shifted);
}

// sum a[i] b[i] over n float32 values (any n: the last 16 are loaded under a mask).
WORDLE_AVX512_TARGET inline float dotF32(const float* a, const float* b, int64_t n) {
  __m512 acc = _mm512_setzero_ps();
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 mask = n - j >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << (n - j)) - 1);
    acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, a + j), _mm512_maskz_loadu_ps(mask, b + j), acc);
  }
  return _mm512_reduce_add_ps(acc);
}

}  // namespace wordle
#endif
