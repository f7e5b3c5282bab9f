// A folder of finished shards (--checkpoint DIR), so that a job killed on a cluster
// resumes without redoing them. A manifest identifies the job (its kind, model file,
// inputs, options and shard plan); a folder holding another job's shards is refused,
// never mixed in. Only rank 0 touches the folder.
#pragma once

#include <filesystem>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

namespace mwb::cluster {

class CheckpointStore {
public:
    // Opens `dir` for the job described by `identity` (any JSON object): creates the
    // folder and writes the manifest, or checks an existing manifest against
    // `identity`. Throws InvalidInput, in one sentence naming the first field that
    // differs, when the folder belongs to another job; Error when it cannot be written.
    CheckpointStore(std::filesystem::path dir, nlohmann::json identity);

    // Shards whose results are in the folder.
    const std::set<int>& finished() const { return m_finished; }
    // Keeps a shard's result (temporary file and rename: a killed job leaves no half
    // shard). Throws Error when it cannot be written.
    void save(int shard, const std::string& bytes);
    // A finished shard's result; throws Error when its file cannot be read.
    std::string load(int shard) const;

    const std::filesystem::path& dir() const { return m_dir; }

private:
    std::filesystem::path shardFile(int shard) const;
    std::filesystem::path m_dir;
    std::set<int> m_finished;
};

// What identifies a model or input file in a manifest without reading it: its name,
// size and modification time (a file replaced since, by an import or an edit saved in
// place, no longer matches).
nlohmann::json fileIdentity(const std::filesystem::path& file);

}  // namespace mwb::cluster
