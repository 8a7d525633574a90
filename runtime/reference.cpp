#include "runtime/reference.h"

#include <algorithm>
#include <cmath>

#include "loader/safetensors.h"
#include "runtime/weights.h"

namespace r1vk::ref {

float round_half(float x) { return half_to_float(float_to_half(x)); }

void round_kv_q8(float* row, uint32_t n) {
    std::vector<int8_t> q(n);
    const float scale = quantize_row_q8(std::span<const float>(row, n), q.data());
    for (uint32_t i = 0; i < n; ++i) row[i] = float(q[i]) * scale;
}

std::vector<float> gptq_matmul(const GptqLinear& L, std::span<const float> x, uint32_t rows) {
    const int K = L.in_features, N = L.out_features;
    // Dequantize once, in the checkpoint's [k][n] order.
    std::vector<double> W(size_t(K) * N);
    for (int k = 0; k < K; ++k) {
        const int g = L.group(k);
        for (int n = 0; n < N; ++n) W[size_t(k) * N + n] = double(L.scale(g, n)) * (L.q(k, n) - L.zero(g, n));
    }
    std::vector<float> bias(N, 0.0f);
    if (L.bias) to_float(*L.bias, bias);
    std::vector<float> y(size_t(rows) * N);
    std::vector<double> acc(N);
    for (uint32_t t = 0; t < rows; ++t) {
        std::fill(acc.begin(), acc.end(), 0.0);
        for (int k = 0; k < K; ++k) {
            const double xv = x[size_t(t) * K + k];
            const double* wr = &W[size_t(k) * N];
            for (int n = 0; n < N; ++n) acc[n] += xv * wr[n];
        }
        for (int n = 0; n < N; ++n) y[size_t(t) * N + n] = float(acc[n] + bias[n]);
    }
    return y;
}

std::vector<float> dense_matmul(std::span<const uint16_t> w, uint32_t n, uint32_t k, std::span<const float> x, uint32_t rows) {
    std::vector<float> y(size_t(rows) * n);
    for (uint32_t t = 0; t < rows; ++t)
        for (uint32_t o = 0; o < n; ++o) {
            double acc = 0.0;
            for (uint32_t i = 0; i < k; ++i) acc += double(half_to_float(w[size_t(o) * k + i])) * x[size_t(t) * k + i];
            y[size_t(t) * n + o] = float(acc);
        }
    return y;
}

std::vector<float> q8_matmul(std::span<const uint16_t> w, uint32_t n, uint32_t k, std::span<const float> x, uint32_t rows) {
    std::vector<float> row(k), scale(n);
    std::vector<int8_t> q(size_t(n) * k);
    for (uint32_t o = 0; o < n; ++o) {
        for (uint32_t i = 0; i < k; ++i) row[i] = half_to_float(w[size_t(o) * k + i]);
        scale[o] = quantize_row_q8(row, &q[size_t(o) * k]);
    }
    std::vector<float> y(size_t(rows) * n);
    for (uint32_t t = 0; t < rows; ++t)
        for (uint32_t o = 0; o < n; ++o) {
            double acc = 0.0;
            for (uint32_t i = 0; i < k; ++i) acc += double(q[size_t(o) * k + i]) * x[size_t(t) * k + i];
            y[size_t(t) * n + o] = float(acc * scale[o]);
        }
    return y;
}

QuantizedX quantize_x_q8(std::span<const float> x) {
    QuantizedX r;
    const size_t nb = x.size() / 32;
    r.q.resize(nb * 32);
    r.d.resize(nb);
    r.ds.resize(nb);
    for (size_t b = 0; b < nb; ++b) {
        // Each block is a row for the project's symmetric int8 quantizer (as the int8 head and cache).
        r.d[b] = quantize_row_q8(x.subspan(32 * b, 32), &r.q[32 * b]);
        int sum = 0;
        for (size_t j = 0; j < 32; ++j) sum += r.q[32 * b + j];
        r.ds[b] = r.d[b] * float(sum);
    }
    return r;
}

std::vector<float> dequantize(const QuantizedX& x) {
    std::vector<float> v(x.q.size());
    for (size_t i = 0; i < v.size(); ++i) v[i] = float(x.q[i]) * x.d[i / 32];
    return v;
}

// sum_b s (d sum(w q) - z d sum(q)) = sum_k s (w - z) (q d): the exact product of the dequantized x.
std::vector<float> gptq_matvec_dot(const GptqLinear& L, const QuantizedX& x) { return gptq_matmul(L, dequantize(x), 1); }

std::vector<float> q8_matvec_dot(std::span<const uint16_t> w, uint32_t n, uint32_t k, const QuantizedX& x) {
    return q8_matmul(w, n, k, dequantize(x), 1);
}

void rmsnorm(const float* x, const float* w, float* y, uint32_t n, float eps) {
    double ss = 0.0;
    for (uint32_t i = 0; i < n; ++i) ss += double(x[i]) * x[i];
    const double inv = 1.0 / std::sqrt(ss / n + eps);
    for (uint32_t i = 0; i < n; ++i) y[i] = float(x[i] * inv * w[i]);
}

void rope_neox(float* head, uint32_t head_dim, uint64_t pos, double theta) {
    const uint32_t h = head_dim / 2;
    for (uint32_t i = 0; i < h; ++i) {
        const double inv_freq = std::pow(theta, -2.0 * i / head_dim);
        const double a = double(pos) * inv_freq;
        const double c = std::cos(a), s = std::sin(a);
        const double x1 = head[i], x2 = head[i + h];
        head[i] = float(x1 * c - x2 * s);
        head[i + h] = float(x2 * c + x1 * s);
    }
}

float silu(float x) { return float(double(x) / (1.0 + std::exp(-double(x)))); }

std::vector<uint32_t> chunk_sums(std::span<const uint32_t> words, uint32_t chunk_words) {
    std::vector<uint32_t> out((words.size() + chunk_words - 1) / chunk_words, 0u);
    for (size_t i = 0; i < words.size(); ++i) out[i / chunk_words] += words[i];
    return out;
}

std::vector<float> attention(std::span<const float> q, std::span<const float> k, std::span<const float> v,
                             uint32_t rows, uint32_t pos0, uint32_t n_heads, uint32_t n_kv, uint32_t head_dim) {
    const uint32_t group = n_heads / n_kv;
    const double scale = 1.0 / std::sqrt(double(head_dim));
    std::vector<float> out(size_t(rows) * n_heads * head_dim);
    std::vector<double> s, acc(head_dim);
    for (uint32_t t = 0; t < rows; ++t) {
        const uint32_t len = pos0 + t + 1;  // causal: positions 0..pos0+t
        for (uint32_t h = 0; h < n_heads; ++h) {
            const uint32_t kvh = h / group;
            const float* qh = &q[(size_t(t) * n_heads + h) * head_dim];
            s.assign(len, 0.0);
            double mx = -INFINITY;
            for (uint32_t j = 0; j < len; ++j) {
                const float* kj = &k[(size_t(j) * n_kv + kvh) * head_dim];
                double d = 0.0;
                for (uint32_t i = 0; i < head_dim; ++i) d += double(qh[i]) * kj[i];
                s[j] = d * scale;
                mx = std::max(mx, s[j]);
            }
            double sum = 0.0;
            for (auto& e : s) sum += (e = std::exp(e - mx));
            std::fill(acc.begin(), acc.end(), 0.0);
            for (uint32_t j = 0; j < len; ++j) {
                const float* vj = &v[(size_t(j) * n_kv + kvh) * head_dim];
                for (uint32_t i = 0; i < head_dim; ++i) acc[i] += s[j] * vj[i];
            }
            for (uint32_t i = 0; i < head_dim; ++i) out[(size_t(t) * n_heads + h) * head_dim + i] = float(acc[i] / sum);
        }
    }
    return out;
}

uint32_t argmax(std::span<const float> x) {
    uint32_t best = 0;
    for (uint32_t i = 1; i < x.size(); ++i)
        if (x[i] > x[best]) best = i;
    return best;
}

RawTrace raw_trace(std::span<const float> x, uint32_t k) {
    RawTrace t;
    double m = -INFINITY;
    for (float v : x) m = std::max<double>(m, v);
    double z = 0;
    for (float v : x) z += std::exp(double(v) - m);
    t.log_z = m + std::log(z);
    for (float v : x) t.entropy -= std::exp(double(v) - t.log_z) * (double(v) - t.log_z);
    std::vector<uint32_t> order(x.size());
    for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
    k = std::min<uint32_t>(k, uint32_t(x.size()));
    std::partial_sort(order.begin(), order.begin() + k, order.end(),
                      [&](uint32_t a, uint32_t b) { return x[a] > x[b] || (x[a] == x[b] && a < b); });
    t.top.assign(order.begin(), order.begin() + k);
    return t;
}

}  // namespace r1vk::ref
