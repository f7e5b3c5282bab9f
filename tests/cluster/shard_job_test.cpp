// Sharded jobs in one process: the order rank 0 consumes shards in, checkpoints that
// skip finished shards and refuse another job's, and errors that pass unchanged.
#include "cluster/shard_job.h"

#include <gtest/gtest.h>

#include "cluster/bytes.h"
#include "cluster/checkpoint.h"
#include "tests/support/temp_dir.h"
#include "tensor/atomic_file.h"

namespace mwb::cluster {
namespace {

// A job whose shard s yields the bytes of s squared; counts the shards it computed.
struct SquaresJob {
    std::vector<int> consumed;
    int computed = 0;
    ShardJob job() {
        ShardJob j;
        j.stage = "squares";
        j.shards = 7;
        j.compute = [this](int s) {
            ++computed;
            ByteWriter w;
            w.put<int32_t>(s * s);
            return w.take();
        };
        j.consume = [this](int s, std::string_view bytes) {
            ByteReader in(bytes, "shard");
            EXPECT_EQ(in.get<int32_t>(), s * s);
            consumed.push_back(s);
        };
        return j;
    }
};

TEST(ShardJob, ConsumesEveryShardOnceInOrder) {
    SquaresJob squares;
    std::vector<long> done;
    runShards(Communicator::self(), squares.job(), [&](const Progress& p) {
        done.push_back(p.done);
        EXPECT_EQ(p.total, 7);
        return true;
    });
    EXPECT_EQ(squares.consumed, (std::vector<int>{0, 1, 2, 3, 4, 5, 6}));
    EXPECT_EQ(squares.computed, 7);
    EXPECT_EQ(done.back(), 7);
}

TEST(ShardJob, SingleProcessKeepsTheShardsOwnError) {
    ShardJob j;
    j.shards = 3;
    j.compute = [](int s) -> std::string {
        if (s == 1) throw InvalidInput("fact 7 has an empty prompt");
        return "";
    };
    j.consume = [](int, std::string_view) {};
    try {
        runShards(Communicator::self(), j);
        FAIL() << "no error";
    } catch (const InvalidInput& e) {
        EXPECT_STREQ(e.what(), "fact 7 has an empty prompt");  // no rank or shard added
    }
}

TEST(ShardJob, CancelledProgressStopsTheJob) {
    SquaresJob squares;
    EXPECT_THROW(runShards(Communicator::self(), squares.job(), [](const Progress& p) { return p.done < 3; }),
                 Cancelled);
    EXPECT_LT(squares.computed, 7);
}

TEST(ShardJob, CheckpointSkipsFinishedShardsAndGivesTheSameResult) {
    test::TempDir tmp;
    const nlohmann::json identity = {{"job", "squares"}, {"n", 7}};
    {  // the first run stops after three shards (Ctrl-C)
        SquaresJob first;
        EXPECT_THROW(runShards(Communicator::self(), first.job(), [](const Progress& p) { return p.done < 3; },
                               {tmp.path(), identity}),
                     Cancelled);
        EXPECT_EQ(first.computed, 3);
    }
    SquaresJob resumed;
    testing::internal::CaptureStderr();
    runShards(Communicator::self(), resumed.job(), {}, {tmp.path(), identity});
    EXPECT_NE(testing::internal::GetCapturedStderr().find("3 of 7 shards already finished"), std::string::npos);
    EXPECT_EQ(resumed.computed, 4);  // only the shards the first run did not finish
    EXPECT_EQ(resumed.consumed, (std::vector<int>{0, 1, 2, 3, 4, 5, 6}));
}

TEST(Checkpoint, RefusesAnotherJobNamingWhatDiffers) {
    test::TempDir tmp;
    CheckpointStore(tmp.path(), {{"job", "trace facts"}, {"samples", 10}}).save(0, "x");
    try {
        CheckpointStore(tmp.path(), {{"job", "trace facts"}, {"samples", 3}});
        FAIL() << "another job's checkpoint was accepted";
    } catch (const InvalidInput& e) {
        EXPECT_NE(std::string(e.what()).find("belongs to another job (its /samples differs)"), std::string::npos)
            << e.what();
    }
    CheckpointStore same(tmp.path(), {{"job", "trace facts"}, {"samples", 10}});
    EXPECT_EQ(same.finished(), (std::set<int>{0}));
    EXPECT_EQ(same.load(0), "x");
}

TEST(Checkpoint, RefusesAFolderOfOtherFiles) {
    test::TempDir tmp;
    writeFileAtomically(tmp / "notes.txt", "mine");
    EXPECT_THROW(CheckpointStore(tmp.path(), {{"job", "x"}}), InvalidInput);
}

TEST(Bytes, RoundTripAndTruncation) {
    ByteWriter w;
    MatrixD m(2, 3);
    m << 1, 2, 3, 4, 5, 0.1;
    w.put<int32_t>(-4);
    w.put(std::string("Eiffel Tower"));
    w.put(std::vector<double>{0.5, -1e-300});
    w.put(std::vector<std::string>{"a", ""});
    w.put(m);
    const std::string bytes = w.take();
    ByteReader in(bytes, "a message");
    EXPECT_EQ(in.get<int32_t>(), -4);
    EXPECT_EQ(in.getString(), "Eiffel Tower");
    EXPECT_EQ(in.getVector<double>(), (std::vector<double>{0.5, -1e-300}));
    EXPECT_EQ(in.getStrings(), (std::vector<std::string>{"a", ""}));
    EXPECT_EQ(in.getMatrix(), m);
    EXPECT_TRUE(in.atEnd());
    ByteReader cut(std::string_view(bytes).substr(0, bytes.size() - 1), "shard-000003.bin");
    cut.get<int32_t>();
    cut.getString();
    cut.getVector<double>();
    cut.getStrings();
    EXPECT_THROW(cut.getMatrix(), Error);
}

}  // namespace
}  // namespace mwb::cluster
