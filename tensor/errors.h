// Error types of the core libraries. Everything the user can get wrong is an
// mwb::Error with one sentence that names the offending thing; the CLI and the
// GUI catch it at their boundary. Cancellation is deliberately not an Error.
#pragma once

#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>

namespace mwb {

struct Error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// A bad parameter or input value (layer out of range, empty prompt, ...).
struct InvalidInput : Error {
    using Error::Error;
};

// A model file that cannot be used; the message names the file and HDF5 path.
class ModelFormatError : public Error {
public:
    ModelFormatError(const std::filesystem::path& file, const std::string& hdf5Path,
                     const std::string& problem)
        : Error(file.string() + ": " + (hdf5Path.empty() ? "" : hdf5Path + " ") + problem),
          m_file(file), m_hdf5Path(hdf5Path) {}
    const std::filesystem::path& file() const { return m_file; }
    const std::string& hdf5Path() const { return m_hdf5Path; }

private:
    std::filesystem::path m_file;
    std::string m_hdf5Path;
};

// User text (a prompt, a subject, a token, an option's value) as an error message quotes
// it: in double quotes, and when it is long only its first bytes (whole UTF-8
// characters) and its length, so that a 10 MB argument does not become a 10 MB message.
std::string quote(std::string_view text);

// The first at most `maxBytes` bytes of text, not cutting a UTF-8 character in two.
std::string_view utf8Prefix(std::string_view text, size_t maxBytes);

// Thrown by a progress callback that asked to stop.
struct Cancelled {};

// Always-on invariant check (Eigen's asserts vanish in release builds).
[[noreturn]] void checkFailed(const char* expr, const char* file, int line);
#define MWB_CHECK(cond) \
    do { if (!(cond)) ::mwb::checkFailed(#cond, __FILE__, __LINE__); } while (0)

}  // namespace mwb
