// OpenMP loops that keep the first exception: every iteration runs once, the first
// exception comes back on the calling thread, later iterations are skipped, and
// per-thread state is made once per thread.
#include "tensor/parallel.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <atomic>
#include <stdexcept>
#include <vector>

#include "tensor/errors.h"

namespace mwb {
namespace {

TEST(ParallelFor, RunsEveryIterationOnceWithEitherScheduleAndIndexType) {
    for (const Schedule schedule : {Schedule::Static, Schedule::Dynamic})
        for (const bool parallel : {true, false}) {
            std::vector<std::atomic<int>> runs(1000);
            parallelFor(int(runs.size()), [&](int i) { ++runs[i]; }, schedule, parallel);
            parallelFor(runs.size(), [&](size_t i) { ++runs[i]; }, schedule, parallel);
            for (const auto& r : runs) EXPECT_EQ(r, 2);
        }
    parallelFor(0, [](int) { FAIL() << "no iteration expected"; });
}

TEST(ParallelFor, RethrowsTheFirstExceptionAndSkipsTheRest) {
    // On one thread the iterations run in order: nothing after the throw runs.
    std::vector<int> seen;
    try {
        parallelFor(10, [&](int i) {
            seen.push_back(i);
            if (i == 3) throw InvalidInput("three");
            if (i == 5) throw InvalidInput("five");
        }, Schedule::Dynamic, /*parallel=*/false);
        FAIL() << "expected an exception";
    } catch (const InvalidInput& e) {
        EXPECT_STREQ(e.what(), "three");
    }
    EXPECT_EQ(seen, (std::vector<int>{0, 1, 2, 3}));

    // On several threads one of the exceptions comes back, of its own type, and an
    // exception that is no std::exception (Cancelled) passes too.
    std::atomic<int> runs = 0;
    EXPECT_THROW(parallelFor(10000, [&](int i) {
                     ++runs;
                     if (i % 100 == 7) throw std::out_of_range("bad");
                 }),
                 std::out_of_range);
    EXPECT_LT(runs, 10000);
    EXPECT_THROW(parallelFor(8, [](int i) { if (i == 2) throw Cancelled{}; }), Cancelled);
}

TEST(ParallelFor, MakesPerThreadStateOnceInsideTheRegion) {
    struct Scratch {
        explicit Scratch(std::atomic<int>& made) : thread(omp_get_thread_num()) { ++made; }
        Scratch(const Scratch&) = delete;  // built in place: no copy or move is needed
        int thread;
        int iterations = 0;
    };
    for (const bool parallel : {true, false}) {
        std::atomic<int> made = 0;
        std::vector<int> threadOf(200, -1);
        ParallelFor loop(Schedule::Dynamic, parallel);
        loop.run(int(threadOf.size()), [&] { return Scratch(made); }, [&](Scratch& s, int i) {
            EXPECT_EQ(s.thread, omp_get_thread_num());
            threadOf[i] = s.thread;
            ++s.iterations;
        });
        EXPECT_GE(made, 1);
        EXPECT_LE(made, parallel ? omp_get_max_threads() : 1);
        for (int t : threadOf) EXPECT_GE(t, 0);
    }

    // A state that cannot be made counts as the loop's exception.
    ParallelFor loop;
    std::atomic<int> runs = 0;
    EXPECT_THROW(loop.run(50, []() -> int { throw InvalidInput("no scratch"); }, [&](int&, int) { ++runs; }),
                 InvalidInput);
    EXPECT_EQ(runs, 0);
    EXPECT_TRUE(loop.failed());
}

TEST(ParallelFor, SerializedStepsRunOneAtATimeAndStopAfterAFailure) {
    long done = 0;  // not atomic: serialized() is the only guard
    ParallelFor loop;
    loop.run(2000, [&](int) { loop.serialized([&] { ++done; }); });
    EXPECT_EQ(done, 2000);

    // A progress report that asks to stop: Cancelled comes back and no report follows it.
    std::vector<long> reports;
    ParallelFor cancelled(Schedule::Dynamic, /*parallel=*/false);
    EXPECT_THROW(cancelled.run(10, [&](int i) {
                     cancelled.serialized([&] {
                         reports.push_back(i);
                         if (i == 4) throw Cancelled{};
                     });
                 }),
                 Cancelled);
    EXPECT_EQ(reports, (std::vector<long>{0, 1, 2, 3, 4}));
}

}  // namespace
}  // namespace mwb
