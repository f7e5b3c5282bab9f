#include "editing/second_moments.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "cluster/bytes.h"
#include "data/datasets.h"
#include "tensor/atomic_file.h"
#include "tensor/errors.h"
#include "tensor/matmul.h"
#include "model/transformer.h"

namespace mwb {

namespace {

// A simple, fast 64-bit hash (splitmix-style mixing of 8-byte words).
struct Hasher {
    uint64_t h = 0x9E3779B97F4A7C15ull;
    void mix(uint64_t v) {
        v += 0x9E3779B97F4A7C15ull;
        v = (v ^ (v >> 30)) * 0xBF58476D1CE4E5B9ull;
        v = (v ^ (v >> 27)) * 0x94D049BB133111EBull;
        h = (h ^ v ^ (v >> 31)) * 0x100000001B3ull;
    }
    void bytes(const void* data, size_t n) {
        const auto* p = static_cast<const unsigned char*>(data);
        size_t i = 0;
        for (; i + 8 <= n; i += 8) {
            uint64_t w;
            std::memcpy(&w, p + i, 8);
            mix(w);
        }
        uint64_t tail = n;
        for (; i < n; ++i) tail = (tail << 8) | p[i];
        mix(tail);
    }
};

std::filesystem::path userCacheDir() {
    if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return std::filesystem::path(xdg) / "mwb";
    if (const char* home = std::getenv("HOME"); home && *home) return std::filesystem::path(home) / ".cache" / "mwb";
    return std::filesystem::temp_directory_path() / "mwb-cache";
}

bool writableDir(const std::filesystem::path& dir) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return false;
    const auto probe = dir / ".write-test";
    std::ofstream out(probe);
    const bool ok = static_cast<bool>(out);
    out.close();
    std::filesystem::remove(probe, ec);
    return ok;
}

// "<model file>.mwbstats": a model's statistics, beside it where that is writable.
std::filesystem::path cacheDirBeside(std::filesystem::path modelFile) {
    modelFile += ".mwbstats";
    return modelFile;
}

std::filesystem::path cacheDirFor(const Model& model, const SecondMomentOptions& o) {
    if (!o.cacheDir.empty()) return o.cacheDir;
    if (!model.path.empty()) {
        const auto beside = cacheDirBeside(model.path);
        if (writableDir(beside)) return beside;
    }
    return userCacheDir();
}

std::filesystem::path cacheFile(const std::filesystem::path& dir, const KeySite& site, uint64_t key) {
    std::ostringstream name;
    name << "mom2-layer" << site.layer;
    if (site.expert >= 0) name << "-expert" << site.expert;
    name << "-" << std::hex << key << ".bin";
    return dir / name.str();
}

// Whether `file` is named as cacheFile names them.
bool isCacheFile(const std::filesystem::path& file) {
    return file.filename().string().rfind("mom2-layer", 0) == 0 && file.extension() == ".bin";
}

constexpr uint64_t kMagic = 0x32304D4F4D42574Dull;  // "MWBMOM02"

bool readCache(const std::filesystem::path& file, SecondMoment& out, int dFf) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return false;
    uint64_t magic = 0;
    int64_t dim = 0, tokens = 0;
    in.read(reinterpret_cast<char*>(&magic), 8);
    in.read(reinterpret_cast<char*>(&dim), 8);
    in.read(reinterpret_cast<char*>(&tokens), 8);
    if (!in || magic != kMagic || dim != dFf) return false;
    out.moment.resize(dim, dim);
    in.read(reinterpret_cast<char*>(out.moment.data()), sizeof(double) * dim * dim);
    if (!in) return false;
    out.tokens = tokens;
    out.fromCache = true;
    std::error_code ec;  // mark it used, for pruneCache
    std::filesystem::last_write_time(file, std::filesystem::file_time_type::clock::now(), ec);
    return true;
}

// Removes the least recently used statistics beyond maxBytes, keeping `keep`.
void pruneCache(const std::filesystem::path& keep, uintmax_t maxBytes) {
    struct Entry { std::filesystem::file_time_type time; uintmax_t size; std::filesystem::path path; };
    std::vector<Entry> entries;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(keep.parent_path(), ec)) {
        if (!isCacheFile(e.path())) continue;
        entries.push_back({e.last_write_time(ec), e.file_size(ec), e.path()});
    }
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.time > b.time; });
    uintmax_t total = 0;
    for (const Entry& e : entries) {
        total += e.size;
        if (total > maxBytes && e.path != keep) std::filesystem::remove(e.path, ec);
    }
}

void writeCache(const std::filesystem::path& file, const SecondMoment& m) {
    // Temporary file and rename: a reader never sees half a file.
    std::error_code ec;
    std::filesystem::create_directories(file.parent_path(), ec);
    try {
        writeFileAtomically(file, [&](std::ostream& out) {
            const int64_t dim = m.moment.rows(), tokens = m.tokens;
            out.write(reinterpret_cast<const char*>(&kMagic), 8);
            out.write(reinterpret_cast<const char*>(&dim), 8);
            out.write(reinterpret_cast<const char*>(&tokens), 8);
            out.write(reinterpret_cast<const char*>(m.moment.data()), sizeof(double) * dim * dim);
        });
    } catch (const Error&) {
        // Caching is an optimisation; a read-only place is not an error.
    }
}

uint64_t optionsFingerprint(uint64_t weights, const std::string& corpus, const SecondMomentOptions& o) {
    Hasher h;
    h.mix(weights);
    h.bytes(corpus.data(), corpus.size());
    h.mix(static_cast<uint64_t>(o.maxTokens));
    // The shards fix the order of the floating-point sums, so they are part of the value.
    h.mix(static_cast<uint64_t>(o.shardTokens));
    if (o.floatProducts) h.mix(0xF10A7ull);  // mixed only when set: existing caches keep their keys
    return h.h;
}

}  // namespace

uint64_t keyFingerprint(const Model& model, int layer) {
    const auto& c = model.config;
    if (layer < 0 || layer >= c.nLayers)
        throw InvalidInput("layer " + std::to_string(layer) + " is out of range (the model has " +
                           std::to_string(c.nLayers) + " layers)");
    Hasher h;
    const std::string limit = "/blocks/" + std::to_string(layer) + "/";
    forEachTensor(c, model.weights, [&](const std::string& path, const auto& t) {
        if (path.rfind("/blocks/", 0) == 0) {
            // The layer's down projections (mlp/down, each expert's, the shared expert's)
            // are what edits change; its keys and routing are computed before them.
            const int block = std::stoi(path.substr(8));
            if (block > layer || (block == layer && path.find("/down/") != std::string::npos)) return;
        } else if (path.rfind("/embed/", 0) != 0) {
            return;  // final norm and head do not shape the keys
        }
        h.bytes(path.data(), path.size());
        h.bytes(t.data(), sizeof(float) * t.size());
    });
    h.mix(static_cast<uint64_t>(c.architecture));  // gpt2 0, llama 1, ...
    h.mix(static_cast<uint64_t>(c.activation));
    // The shape of the newer architectures' computation, mixed only when set so that
    // gpt2 and llama statistics keep their keys.
    for (const double v : {double(c.headDim), double(c.rotaryDim), double(c.parallelResidual),
                           double(c.slidingWindow), double(c.slidingLayers), double(c.attnSoftcap),
                           double(c.queryPreAttnScalar), double(c.qkvBias), c.ropeScaling.factor - 1.0,
                           double(c.ropeTheta) - 10000.0, double(c.nExpertsPerToken), double(c.normTopK)})
        if (v != 0.0) {
            uint64_t bits;
            std::memcpy(&bits, &v, sizeof bits);
            h.mix(bits);
        }
    return h.h;
}

namespace {

// The corpus as the statistics read it: documents in order, each split into runs of at
// most nCtx tokens, until maxTokens; then grouped into shards of consecutive chunks,
// a new shard starting once the current one holds shardTokens tokens. The plan
// depends only on the corpus and the options, never on the number of ranks.
struct CorpusPlan {
    std::vector<std::vector<int>> chunks;
    std::vector<size_t> shardBegin;  // index of each shard's first chunk; then chunks.size()
    std::vector<long> shardTokens;
    long tokens = 0;
};

CorpusPlan planCorpus(const Model& model, const std::string& corpusText, const SecondMomentOptions& o) {
    const auto docs = splitDocuments(corpusText);
    if (docs.empty()) throw InvalidInput("the corpus for the second-moment statistics is empty");
    CorpusPlan plan;
    const long nCtx = model.config.nCtx;
    for (size_t d = 0; d < docs.size() && plan.tokens < o.maxTokens; ++d) {
        const auto ids = model.tokenizer.encodeIds(docs[d]);
        for (size_t start = 0; start < ids.size() && plan.tokens < o.maxTokens; start += size_t(nCtx)) {
            const size_t len = size_t(std::min<long>({long(ids.size() - start), nCtx, o.maxTokens - plan.tokens}));
            if (plan.shardBegin.empty() || plan.shardTokens.back() >= o.shardTokens) {
                plan.shardBegin.push_back(plan.chunks.size());
                plan.shardTokens.push_back(0);
            }
            plan.chunks.emplace_back(ids.begin() + long(start), ids.begin() + long(start + len));
            plan.shardTokens.back() += long(len);
            plan.tokens += long(len);
        }
    }
    plan.shardBegin.push_back(plan.chunks.size());
    return plan;
}

// The lower triangle of a symmetric sum, column by column: half the bytes of the
// matrix, all of its information (the upper part is never accumulated).
void putLower(cluster::ByteWriter& w, const MatrixD& m) {
    std::vector<double> lower;
    lower.reserve(size_t(m.rows() * (m.rows() + 1) / 2));
    for (Eigen::Index c = 0; c < m.cols(); ++c)
        for (Eigen::Index r = c; r < m.rows(); ++r) lower.push_back(m(r, c));
    w.put(lower);
}

// Adds a lower triangle written by putLower to the lower triangle of `sum`.
void addLower(cluster::ByteReader& in, MatrixD& sum) {
    const std::vector<double> lower = in.getVector<double>();
    if (lower.size() != size_t(sum.rows() * (sum.rows() + 1) / 2))
        throw Error("a shard of the second-moment statistics has " + std::to_string(lower.size()) +
                    " values, expected " + std::to_string(sum.rows() * (sum.rows() + 1) / 2));
    size_t i = 0;
    for (Eigen::Index c = 0; c < sum.cols(); ++c)
        for (Eigen::Index r = c; r < sum.rows(); ++r) sum(r, c) += lower[i++];
}

}  // namespace

std::map<KeySite, SecondMoment> keySecondMoments(const Model& model, const std::vector<KeySite>& sites,
                                                 const std::string& corpusText, const SecondMomentOptions& o,
                                                 const ProgressFn& progress, const cluster::ShardRun& run) {
    const auto& c = model.config;
    for (const KeySite& site : sites)
        if (const std::string problem = editTargetProblem(c, site.layer, site.expert); !problem.empty())
            throw InvalidInput(problem);
    if (o.maxTokens < 1) throw InvalidInput("the number of tokens for the statistics must be positive");
    if (o.shardTokens < 1) throw InvalidInput("the tokens per shard of the statistics must be positive");
    const cluster::Communicator& comm = run.communicator();
    std::map<KeySite, SecondMoment> result;
    std::map<KeySite, uint64_t> keys;
    const auto dir = o.useCache ? cacheDirFor(model, o) : std::filesystem::path();
    for (const KeySite& site : sites)
        keys[site] = optionsFingerprint(keyFingerprint(model, site.layer), corpusText, o);
    // Rank 0 alone reads the cache; every rank learns which sites remain to compute.
    const std::string todoBytes = cluster::agreedBroadcast(comm, [&] {
        std::vector<int> todo;  // layer, expert, layer, expert, ...
        for (const KeySite& site : sites) {
            SecondMoment m;
            m.layer = site.layer;
            m.expert = site.expert;
            if (o.useCache && readCache(cacheFile(dir, site, keys[site]), m, editedKeyWidth(c, site.expert)))
                result[site] = std::move(m);
            else if (!result.count(site)) {
                bool listed = false;
                for (size_t i = 0; i < todo.size(); i += 2) listed |= todo[i] == site.layer && todo[i + 1] == site.expert;
                if (!listed) todo.insert(todo.end(), {site.layer, site.expert});
            }
        }
        cluster::ByteWriter w;
        w.put(todo);
        return w.take();
    });
    const std::vector<int> todoPairs = cluster::ByteReader(todoBytes, "the layers to compute").getVector<int>();
    std::vector<KeySite> todo;
    for (size_t i = 0; i + 1 < todoPairs.size(); i += 2) todo.push_back({todoPairs[i], todoPairs[i + 1]});
    if (todo.empty()) return result;

    const CorpusPlan plan = planCorpus(model, corpusText, o);
    const Transformer transformer(model, nullptr, WeightPacking::Once);
    Hooks hooks;
    int toLayer = 0;  // later layers are not needed
    for (const KeySite& site : todo) {
        hooks.captures.push_back({site.expert < 0 ? HookSite::MlpIn : HookSite::ExpertIn, site.layer, site.expert});
        toLayer = std::max(toLayer, site.layer + 1);
    }
    // Each shard's sums start from zero and rank 0 adds them in shard order, so the
    // result is the same for any number of ranks (docs/cluster.md). Only the lower
    // triangle is accumulated (Kᵀ K is symmetric); in double, straight from the keys,
    // so that no d_ff x d_ff temporary exists besides the sums (a 7B model's d_ff of
    // 11008 makes each such matrix a gigabyte).
    std::map<KeySite, MatrixD> sums;
    std::map<KeySite, long> counts;
    // With float products the MLP keys of consecutive chunks are stacked, up to a block
    // of rows that keeps the stacks of all layers within 256 MB, and multiplied once per
    // block: a chunk's few dozen rows make Kᵀ K a memory-bound rank update of a
    // d_ff x d_ff matrix, a block of hundreds a compute-bound product. An expert's keys
    // (the rows routed to it) are always added in double.
    const long blockRows = std::clamp<long>((256L << 20) / (long(sizeof(float)) * c.dFf * long(todo.size())), 64, 4096);
    const auto computeShard = [&](int shard) {
        std::map<KeySite, MatrixD> partial;
        std::map<KeySite, long> routed;
        std::map<KeySite, Matrix> stack;  // [dFf x blockRows]: keys as columns, rows contiguous
        long stacked = 0;
        const auto stacks = [&](const KeySite& site) { return o.floatProducts && site.expert < 0; };
        for (const KeySite& site : todo) {
            const int width = editedKeyWidth(c, site.expert);
            partial[site] = MatrixD::Zero(width, width);
            routed[site] = 0;
            if (stacks(site)) stack[site].resize(c.dFf, blockRows);
        }
        // partial += kt ktᵀ for keys as the columns of kt ([dFf x n], rows contiguous).
        const auto addProduct = [&](const KeySite& site, const Matrix& kt) {
            Matrix product(c.dFf, c.dFf);
            matmulTransposed(kt.data(), kt.cols(), kt.data(), kt.cols(), product.data(), c.dFf, int(c.dFf),
                             int(c.dFf), int(kt.cols()));
            partial[site] += product.cast<double>();
        };
        const auto flush = [&] {
            if (stacked > 0)
                for (const KeySite& site : todo)
                    if (stacks(site)) addProduct(site, stack[site].leftCols(stacked));
            stacked = 0;
        };
        for (size_t i = plan.shardBegin[size_t(shard)]; i < plan.shardBegin[size_t(shard) + 1]; ++i) {
            const RunState s = transformer.run(plan.chunks[i], hooks, LogitsMode::None, toLayer);
            const long rows = s.nTokens;
            if (o.floatProducts && stacked + rows > blockRows) flush();
            for (const KeySite& site : todo) {
                if (site.expert >= 0) {  // the rows of the tokens routed to the expert
                    const Matrix& all = s.capturedExperts.at({HookSite::ExpertIn, site.layer, site.expert});
                    const auto& chosen = s.routing[size_t(site.layer)].experts;
                    std::vector<int> at;
                    for (int t = 0; t < rows; ++t)
                        if ((chosen.row(t).head(c.nExpertsPerToken).array() == site.expert).any()) at.push_back(t);
                    if (at.empty()) continue;
                    partial[site].selfadjointView<Eigen::Lower>().rankUpdate(all(at, Eigen::all).transpose().cast<double>());
                    routed[site] += long(at.size());
                    continue;
                }
                const Matrix& keys = s.captured.at({HookSite::MlpIn, site.layer});
                routed[site] += rows;
                if (o.floatProducts && rows <= blockRows) {
                    stack[site].middleCols(stacked, rows) = keys.transpose();
                } else if (o.floatProducts) {  // a chunk longer than a block: on its own
                    addProduct(site, keys.transpose());
                } else {
                    partial[site].selfadjointView<Eigen::Lower>().rankUpdate(keys.transpose().cast<double>());
                }
            }
            if (o.floatProducts && rows <= blockRows) stacked += rows;
        }
        if (o.floatProducts) flush();
        cluster::ByteWriter w;
        for (const KeySite& site : todo) {
            w.put(int64_t(routed[site]));
            putLower(w, partial[site]);
        }
        return w.take();
    };
    cluster::ShardJob job;
    job.stage = "statistics";
    job.shards = int(plan.shardTokens.size());
    job.units = [&](int shard) { return plan.shardTokens[size_t(shard)]; };
    job.compute = computeShard;
    job.consume = [&](int shard, std::string_view bytes) {
        cluster::ByteReader in(bytes, "shard " + std::to_string(shard) + " of the statistics");
        for (const KeySite& site : todo) {
            const int width = editedKeyWidth(c, site.expert);
            if (!sums.count(site)) sums[site] = MatrixD::Zero(width, width);
            counts[site] += long(in.get<int64_t>());
            addLower(in, sums[site]);
        }
    };
    std::vector<int> layers;
    for (const KeySite& site : todo) layers.push_back(site.layer);
    nlohmann::json identity = {{"job", "second moments"}, {"model", cluster::fileIdentity(model.path)},
                               {"layers", layers}, {"tokens", plan.tokens}, {"shard_tokens", o.shardTokens},
                               {"shards", job.shards}, {"shard_format", "count and lower triangle per site"}};
    for (const KeySite& site : todo)
        identity["key_layer" + std::to_string(site.layer) +
                 (site.expert >= 0 ? "_expert" + std::to_string(site.expert) : std::string())] = keys[site];
    cluster::runShards(comm, job, progress, {run.checkpoint, identity});
    if (!comm.isRoot()) return {};
    for (const KeySite& site : todo) {
        if (counts[site] == 0)
            throw InvalidInput("expert " + std::to_string(site.expert) + " of layer " + std::to_string(site.layer) +
                               " received none of the " + std::to_string(plan.tokens) +
                               " tokens of the statistics' corpus, so its keys have no statistics");
        SecondMoment m;
        m.layer = site.layer;
        m.expert = site.expert;
        m.tokens = counts[site];
        MatrixD& sum = sums[site];
        sum.triangularView<Eigen::StrictlyUpper>() = sum.transpose();  // reads only the lower part
        sum /= static_cast<double>(m.tokens);
        m.moment = std::move(sum);
        if (o.useCache) {
            writeCache(cacheFile(dir, site, keys[site]), m);
            pruneCache(cacheFile(dir, site, keys[site]), o.maxCacheBytes);
        }
        result[site] = std::move(m);
    }
    return result;
}

std::map<int, SecondMoment> secondMoments(const Model& model, const std::vector<int>& layers,
                                          const std::string& corpusText, const SecondMomentOptions& o,
                                          const ProgressFn& progress, const cluster::ShardRun& run) {
    std::vector<KeySite> sites;
    for (int layer : layers) sites.push_back({layer, -1});
    std::map<int, SecondMoment> out;
    for (auto& [site, m] : keySecondMoments(model, sites, corpusText, o, progress, run)) out[site.layer] = std::move(m);
    return out;
}

void linkCachedStatistics(const std::filesystem::path& sourceModel, const std::filesystem::path& writtenModel) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (sourceModel.empty() || fs::equivalent(sourceModel, writtenModel, ec)) return;
    const fs::path from = cacheDirBeside(sourceModel), to = cacheDirBeside(writtenModel);
    try {  // caching is an optimisation: nothing here may fail the save it follows
        if (!fs::is_directory(from, ec)) return;
        for (const auto& e : fs::directory_iterator(from, ec)) {
            if (!isCacheFile(e.path())) continue;
            fs::create_directories(to, ec);
            const fs::path link = to / e.path().filename();
            if (!fs::exists(link, ec)) fs::create_hard_link(e.path(), link, ec);
        }
    } catch (const fs::filesystem_error&) {
    }
}

SecondMoment secondMoment(const Model& model, int layer, const std::string& corpusText,
                          const SecondMomentOptions& options, const ProgressFn& progress) {
    return secondMoments(model, {layer}, corpusText, options, progress, {}).at(layer);
}

double meanSquaredOutput(const Matrix& w, const MatrixD& moment) {
    if (w.cols() != moment.rows() || moment.rows() != moment.cols())
        throw InvalidInput("the second-moment matrix does not match the weight it weighs");
    // By blocks of rows: on a 7B model a double copy of W alone is 360 MB.
    double sum = 0.0;
    for (Eigen::Index r = 0; r < w.rows(); r += 256) {
        const MatrixD rows = w.middleRows(r, std::min<Eigen::Index>(256, w.rows() - r)).cast<double>();
        sum += (rows * moment.selfadjointView<Eigen::Lower>()).cwiseProduct(rows).sum();
    }
    return sum;
}

double outputChange(const Matrix& w, const MatrixD& left, const MatrixD& right, const MatrixD& moment) {
    if (left.rows() != w.rows() || right.rows() != w.cols() || left.cols() != right.cols())
        throw InvalidInput("the update's factors do not match the weight they change");
    const double base = meanSquaredOutput(w, moment);
    const MatrixD rcr = right.transpose() * (moment.selfadjointView<Eigen::Lower>() * right);
    const double change = (left.transpose() * left).cwiseProduct(rcr).sum();
    return base > 0 ? std::sqrt(std::max(change, 0.0) / base) : 0.0;
}

}  // namespace mwb
