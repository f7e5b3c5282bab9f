// Writing a file through a temporary file in the same folder that is renamed into
// place, so that a crash or an error never leaves a half-written file behind.
#pragma once

#include <filesystem>
#include <functional>
#include <ostream>
#include <string>
#include <string_view>

namespace mwb {

// Calls write(stream) on a temporary file next to `file`, then renames it to `file`
// (replacing an existing file). Throws Error naming the file when it cannot be written
// or renamed; the temporary file is removed on any failure, including an exception
// thrown by `write`.
void writeFileAtomically(const std::filesystem::path& file,
                         const std::function<void(std::ostream&)>& write);

// The same for a file whose whole content is at hand.
void writeFileAtomically(const std::filesystem::path& file, std::string_view content);

// The same for writers that open the file themselves (HDF5): write(temp) creates and
// fills the temporary file at `temp`. With replaceExisting false, a `file` that exists
// when the temporary file is complete is kept and InvalidInput says so.
void writeFileAtomicallyAt(const std::filesystem::path& file,
                           const std::function<void(const std::filesystem::path& temp)>& write,
                           bool replaceExisting = true);

// One sentence for a failed write of `file` with errno `error`, e.g. "no space left on
// /mnt/usb while writing /mnt/usb/m.h5" (the mount point of the file's folder). An error
// that says nothing specific (0, EIO) on a folder without free space counts as a full disk.
std::string writeFailureText(const std::filesystem::path& file, int error);

// Throws Error(writeFailureText(file, test)) when MWB_FAIL_WRITES names `file`'s file
// name (or is "*"): a test hook that makes a writer fail half-way, as a full disk does,
// on machines where a small file system cannot be mounted. Writers call it after
// their first bytes are out.
void failWriteForTest(const std::filesystem::path& file);

}  // namespace mwb
