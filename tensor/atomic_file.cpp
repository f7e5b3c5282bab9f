// Temp-file-and-rename writing (see atomic_file.h).
#include "tensor/atomic_file.h"

#include <sys/stat.h>
#include <sys/statvfs.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
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

// The folder where the file system holding `folder` is mounted ("/mnt/usb").
fs::path mountPointOf(const fs::path& folder) {
    std::error_code ec;
    fs::path p = fs::absolute(folder, ec).lexically_normal();
    struct stat st {};
    if (ec || ::stat(p.c_str(), &st) != 0) return folder;
    while (p.has_relative_path()) {
        const fs::path parent = p.parent_path();
        struct stat up {};
        if (::stat(parent.c_str(), &up) != 0 || up.st_dev != st.st_dev) break;
        p = parent;
    }
    return p;
}

}  // namespace

std::string writeFailureText(const fs::path& file, int error) {
    const fs::path folder = file.parent_path().empty() ? fs::path(".") : file.parent_path();
    if (error == 0 || error == EIO) {
        struct statvfs vfs {};
        if (::statvfs(folder.c_str(), &vfs) == 0 && double(vfs.f_bavail) * double(vfs.f_frsize) < double(1 << 20))
            error = ENOSPC;
    }
    const std::string target = file.string();
    switch (error) {
        case ENOSPC: return "no space left on " + mountPointOf(folder).string() + " while writing " + target;
        case EDQUOT: return "the disk quota on " + mountPointOf(folder).string() + " is used up while writing " + target;
        case EFBIG: return "the file size limit was reached while writing " + target;
        case 0: return "cannot write " + target;
        default: return "cannot write " + target + " (" + std::strerror(error) + ")";
    }
}

void failWriteForTest(const fs::path& file) {
    const char* names = std::getenv("MWB_FAIL_WRITES");
    if (!names || !*names) return;
    const std::string name = file.filename().string();
    if (std::string_view(names) == "*" || name.find(names) != std::string::npos) throw Error(writeFailureText(file, ENOSPC));
}

void writeFileAtomically(const fs::path& file, const std::function<void(std::ostream&)>& write) {
    writeFileAtomicallyAt(file, [&](const fs::path& temp) {
        std::ofstream out(temp, std::ios::binary | std::ios::trunc);
        if (!out)
            throw Error("cannot write " + file.string() + ": cannot create a file in its folder");
        errno = 0;
        write(out);
        out.flush();
        if (!out) throw Error(writeFailureText(file, errno));
        failWriteForTest(file);
        out.close();
        if (!out) throw Error(writeFailureText(file, errno));
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
