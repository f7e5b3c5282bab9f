// Finished shards on disk (checkpoint.h).
#include "cluster/checkpoint.h"

#include <bit>
#include <cstdio>
#include <regex>

#include "tensor/atomic_file.h"
#include "tensor/errors.h"
#include "tensor/files.h"

namespace mwb::cluster {

namespace fs = std::filesystem;

namespace {

constexpr const char* kManifest = "manifest.json";
constexpr int kFormat = 1;

// The first key (as a JSON pointer) where two manifests differ, for the refusal.
std::string firstDifference(const nlohmann::json& a, const nlohmann::json& b) {
    const nlohmann::json patch = nlohmann::json::diff(a, b);
    if (patch.empty()) return "";
    return patch[0].value("path", std::string("/"));
}

}  // namespace

CheckpointStore::CheckpointStore(fs::path dir, nlohmann::json identity) : m_dir(std::move(dir)) {
    // The byte order and number format of the shard files (bytes.h) are part of the job.
    identity["checkpoint_format"] = kFormat;
    identity["byte_order"] = std::endian::native == std::endian::little ? "little" : "big";
    std::error_code ec;
    fs::create_directories(m_dir, ec);
    if (ec) throw Error("cannot create the checkpoint folder " + m_dir.string() + ": " + ec.message());
    const fs::path manifest = m_dir / kManifest;
    if (const auto text = tryReadFile(manifest)) {
        const nlohmann::json stored = nlohmann::json::parse(*text, nullptr, false);
        if (stored.is_discarded())
            throw InvalidInput("the checkpoint " + m_dir.string() + " has an unreadable manifest.json; "
                               "remove the folder to start the job afresh");
        if (stored != identity)
            throw InvalidInput("the checkpoint " + m_dir.string() + " belongs to another job (its " +
                               firstDifference(stored, identity) +
                               " differs); give another folder or remove this one");
    } else {
        if (fs::exists(manifest, ec) || (!fs::is_empty(m_dir, ec) && !ec))
            throw InvalidInput("the checkpoint folder " + m_dir.string() +
                               " is not empty and has no manifest.json; give an empty or new folder");
        writeFileAtomically(manifest, identity.dump(1) + "\n");
    }
    static const std::regex shardName(R"(shard-(\d{6})\.bin)");
    for (const auto& e : fs::directory_iterator(m_dir, ec)) {
        std::smatch m;
        const std::string name = e.path().filename().string();
        if (std::regex_match(name, m, shardName)) m_finished.insert(std::stoi(m[1].str()));
    }
}

fs::path CheckpointStore::shardFile(int shard) const {
    char name[32];
    std::snprintf(name, sizeof name, "shard-%06d.bin", shard);
    return m_dir / name;
}

void CheckpointStore::save(int shard, const std::string& bytes) {
    writeFileAtomically(shardFile(shard), bytes);
    m_finished.insert(shard);
}

std::string CheckpointStore::load(int shard) const { return readFile(shardFile(shard), "checkpoint shard"); }

nlohmann::json fileIdentity(const fs::path& file) {
    std::error_code sizeError, timeError;
    const auto size = fs::file_size(file, sizeError);
    const auto time = fs::last_write_time(file, timeError);
    return {{"name", file.filename().string()},
            {"size", sizeError ? 0 : size},
            {"modified", timeError ? 0 : static_cast<long long>(time.time_since_epoch().count())}};
}

}  // namespace mwb::cluster
