// Loops over OpenMP threads that keep the first exception. An exception must not leave
// an OpenMP region (GCC terminates the program): each iteration's exception is caught
// where it is thrown, the first one is kept, the iterations not yet started are skipped,
// and the kept exception is rethrown on the calling thread after the region.
#pragma once

#include <atomic>
#include <exception>
#include <mutex>
#include <type_traits>
#include <utility>

namespace mwb {

// How the iterations are shared among the threads: OpenMP's schedule(static), or
// schedule(dynamic) (chunks of one iteration, taken in order as threads become free).
enum class Schedule { Static, Dynamic };

// One parallel loop. For a plain loop use parallelFor below; the class is for bodies
// that need per-thread state or a serialized step (progress reporting).
class ParallelFor {
public:
    // With `parallel` false the loop runs on the calling thread alone (OpenMP's
    // if clause), in order.
    explicit ParallelFor(Schedule schedule = Schedule::Dynamic, bool parallel = true)
        : m_schedule(schedule), m_parallel(parallel) {}

    ParallelFor(const ParallelFor&) = delete;
    ParallelFor& operator=(const ParallelFor&) = delete;

    // Runs body(i) for i in [0, n); rethrows the first exception after the loop.
    template <typename Index, typename Body>
    void run(Index n, Body&& body) {
        run(n, [] { return Stateless{}; }, [&](Stateless&, Index i) { body(i); });
    }

    // The same with per-thread state: each thread of the region calls makeState()
    // once, inside the region and before its first iteration, and runs body(state, i)
    // for its share of the iterations. An exception from makeState() counts like one
    // from an iteration (that thread then runs none).
    template <typename Index, typename MakeState, typename Body>
    void run(Index n, MakeState&& makeState, Body&& body) {
        m_error = nullptr;
        m_failed = false;
#pragma omp parallel if (m_parallel)
        {
            try {
                auto state = makeState();
                share(n, &state, body);
            } catch (...) {  // only from makeState(): share() keeps what the body throws
                keep(std::current_exception());
                share(n, static_cast<std::decay_t<decltype(makeState())>*>(nullptr), body);
            }
        }
        if (m_error) std::rethrow_exception(std::exchange(m_error, nullptr));
    }

    // For use inside a body: runs f() on one thread at a time (like a named
    // `omp critical`), and not at all once an iteration has failed. An exception from
    // f() is kept before the lock is released and then propagates out of the body.
    template <typename F>
    void serialized(F&& f) {
        std::lock_guard lock(m_serialMutex);
        if (m_failed) return;
        try {
            f();
        } catch (...) {
            keep(std::current_exception());
            throw;
        }
    }

    // True once an iteration (or a makeState()) has thrown.
    bool failed() const { return m_failed; }

private:
    struct Stateless {};

    // The worksharing loop of the region. Every thread of the team reaches this same
    // construct (also with state == nullptr after a failed makeState()), as OpenMP
    // requires.
    template <typename Index, typename State, typename Body>
    void share(Index n, State* state, Body& body) noexcept {
        if (m_schedule == Schedule::Dynamic) {
#pragma omp for schedule(dynamic)
            for (Index i = 0; i < n; ++i) step(state, body, i);
        } else {
#pragma omp for schedule(static)
            for (Index i = 0; i < n; ++i) step(state, body, i);
        }
    }

    template <typename Index, typename State, typename Body>
    void step(State* state, Body& body, Index i) noexcept {
        if (!state || m_failed) return;
        try {
            body(*state, i);
        } catch (...) {
            keep(std::current_exception());
        }
    }

    void keep(std::exception_ptr e) noexcept {
        std::lock_guard lock(m_errorMutex);
        if (!m_error) m_error = std::move(e);
        m_failed = true;
    }

    Schedule m_schedule;
    bool m_parallel;
    std::atomic<bool> m_failed = false;
    std::exception_ptr m_error;
    std::mutex m_errorMutex;   // guards m_error
    std::mutex m_serialMutex;  // serialized()
};

// Runs body(i) for i in [0, n) over the OpenMP threads; the first exception an
// iteration throws is rethrown after the loop, and the iterations not yet started are
// skipped once one has thrown. `parallel` false runs the loop on the calling thread.
template <typename Index, typename Body>
void parallelFor(Index n, Body&& body, Schedule schedule = Schedule::Dynamic, bool parallel = true) {
    ParallelFor(schedule, parallel).run(n, std::forward<Body>(body));
}

}  // namespace mwb
