// Temp-file-and-rename writing (see atomic_file.h).
#include "tensor/atomic_file.h"

#include <atomic>
#include <fstream>
#include <random>
#include <string>

#include "tensor/errors.h"

namespace mwb {

namespace fs = std::filesystem;

namespace {

fs::path temporaryFor(const fs::path& file) {
    static std::atomic<unsigned> counter{0};
    const std::string suffix =
        std::to_string(std::random_device{}()) + "-" + std::to_string(counter++);
    std::string name = ".";  // hidden, so a crash leaves no file that looks finished
    name += file.filename().string();
    name += ".tmp-";
    name += suffix;
    return file.parent_path() / name;
}

}  // namespace

void writeFileAtomically(const fs::path& file, const std::function<void(std::ostream&)>& write) {
    writeFileAtomicallyAt(file, [&](const fs::path& temp) {
        std::ofstream out(temp, std::ios::binary | std::ios::trunc);
        if (!out)
            throw Error("cannot write " + file.string() + ": cannot create a file in its folder");
        write(out);
        out.flush();
        if (!out) throw Error("cannot write " + file.string() + " (disk full?)");
    });
}

void writeFileAtomicallyAt(const fs::path& file, const std::function<void(const fs::path&)>& write,
                           bool replaceExisting) {
    const fs::path temp = temporaryFor(file);
    std::error_code ec;
    try {
        write(temp);
    } catch (...) {
        fs::remove(temp, ec);
        throw;
    }
    if (!replaceExisting && fs::exists(file, ec)) {  // appeared while the temporary file was written
        fs::remove(temp, ec);
        throw InvalidInput(file.string() + " already exists and is kept (pass --force to replace it)");
    }
    fs::rename(temp, file, ec);
    if (ec) {
        const std::string reason = ec.message();
        fs::remove(temp, ec);
        throw Error("cannot write " + file.string() + ": renaming the temporary file failed (" +
                    reason + ")");
    }
}

void writeFileAtomically(const fs::path& file, std::string_view content) {
    writeFileAtomically(file, [content](std::ostream& out) {
        out.write(content.data(), std::streamsize(content.size()));
    });
}

}  // namespace mwb
