// A shard's result as bytes, to send between ranks and keep in a checkpoint: plain
// values in the machine's byte order, written and read back in the same order. The
// ranks of a job run the same binary on the same kind of machine; a checkpoint records
// this byte order's marker (checkpoint.h) so that a foreign one is refused.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "tensor/errors.h"
#include "tensor/tensor.h"

namespace mwb::cluster {

class ByteWriter {
public:
    template <class T>
        requires std::is_arithmetic_v<T>
    void put(T v) {
        m_bytes.append(reinterpret_cast<const char*>(&v), sizeof v);
    }
    void put(std::string_view s) {
        put<uint64_t>(s.size());
        m_bytes.append(s);
    }
    void put(const std::string& s) { put(std::string_view(s)); }
    template <class T>
        requires std::is_arithmetic_v<T>
    void put(const std::vector<T>& v) {
        put<uint64_t>(v.size());
        m_bytes.append(reinterpret_cast<const char*>(v.data()), sizeof(T) * v.size());
    }
    void put(const std::vector<std::string>& v) {
        put<uint64_t>(v.size());
        for (const std::string& s : v) put(s);
    }
    // Rows, columns, then the values in storage order.
    void put(const MatrixD& m) {
        put<int64_t>(m.rows());
        put<int64_t>(m.cols());
        m_bytes.append(reinterpret_cast<const char*>(m.data()), sizeof(double) * size_t(m.size()));
    }

    const std::string& bytes() const { return m_bytes; }
    std::string take() { return std::move(m_bytes); }

private:
    std::string m_bytes;
};

// Reads what a ByteWriter wrote. Throws Error when the bytes end early (a truncated
// checkpoint file or message), naming `what`.
class ByteReader {
public:
    ByteReader(std::string_view bytes, std::string what) : m_bytes(bytes), m_what(std::move(what)) {}

    template <class T>
        requires std::is_arithmetic_v<T>
    T get() {
        T v;
        std::memcpy(&v, take(sizeof v), sizeof v);
        return v;
    }
    std::string getString() {
        const auto n = get<uint64_t>();
        return std::string(take(n), n);
    }
    template <class T>
    std::vector<T> getVector() {
        const auto n = get<uint64_t>();
        std::vector<T> v(n);
        if (n) std::memcpy(v.data(), take(sizeof(T) * n), sizeof(T) * n);
        return v;
    }
    std::vector<std::string> getStrings() {
        std::vector<std::string> v(get<uint64_t>());
        for (std::string& s : v) s = getString();
        return v;
    }
    MatrixD getMatrix() {
        const auto rows = get<int64_t>(), cols = get<int64_t>();
        if (rows < 0 || cols < 0) throw Error(m_what + " holds a matrix of negative size");
        MatrixD m(rows, cols);
        if (m.size()) std::memcpy(m.data(), take(sizeof(double) * size_t(m.size())), sizeof(double) * size_t(m.size()));
        return m;
    }
    bool atEnd() const { return m_at == m_bytes.size(); }

private:
    const char* take(size_t n) {
        if (n > m_bytes.size() - m_at) throw Error(m_what + " ends early (truncated or from another version)");
        const char* p = m_bytes.data() + m_at;
        m_at += n;
        return p;
    }
    std::string_view m_bytes;
    std::string m_what;
    size_t m_at = 0;
};

// FNV-1a over bytes: identifies a job's inputs in its checkpoint manifest.
inline uint64_t hashBytes(std::string_view bytes, uint64_t h = 0xcbf29ce484222325ull) {
    for (unsigned char c : bytes) h = (h ^ c) * 0x100000001b3ull;
    return h;
}

}  // namespace mwb::cluster
