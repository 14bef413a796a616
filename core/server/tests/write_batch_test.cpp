// The writes of one flush, made together (server/write_batch.hpp), through io_uring and through
// one sendmsg each: every write lands on its own socket, whole and in its order, each writer
// hears its own result, and a socket that is full or gone answers at once without holding up
// the others.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <ostream>
#include <string>
#include <vector>

#include "server/write_batch.hpp"

namespace tributary {

void PrintTo(write_batch::engine e, std::ostream* os) { *os << (e == write_batch::engine::io_uring ? "io_uring" : "sendmsg"); }

namespace {

using engine = write_batch::engine;

struct socket_pair {
  int ours = -1, theirs = -1;
  socket_pair() {
    int fd[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fd), 0);
    ours = fd[0];
    theirs = fd[1];
    ::fcntl(ours, F_SETFL, O_NONBLOCK);
    ::fcntl(theirs, F_SETFL, O_NONBLOCK);
  }
  ~socket_pair() {
    if (ours >= 0) ::close(ours);
    if (theirs >= 0) ::close(theirs);
  }
  std::string read_all() const {
    std::string out;
    char buf[65536];
    for (ssize_t n; (n = ::read(theirs, buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
    return out;
  }
  void fill() const {  // until the socket takes nothing more
    std::string junk(65536, 'j');
    while (::send(ours, junk.data(), junk.size(), MSG_DONTWAIT) > 0) {
    }
  }
};

struct recorder : write_batch::writer {
  explicit recorder(std::vector<std::pair<int, ssize_t>>* l = nullptr, int i = 0) : log(l), id(i) {}
  std::vector<std::pair<int, ssize_t>>* log;
  int id;
  void written(ssize_t result) override { log->emplace_back(id, result); }
};

// Stages `parts` (one buffer each) as one write to `fd`.
void stage(write_batch& b, int fd, const std::vector<std::string>& parts, recorder& to) {
  auto room = b.room(parts.size());
  ASSERT_GE(room.size(), parts.size());
  for (size_t i = 0; i < parts.size(); ++i) room[i] = iovec{const_cast<char*>(parts[i].data()), parts[i].size()};
  b.add(fd, parts.size(), &to);
}

class WriteBatch : public ::testing::TestWithParam<engine> {
 protected:
  void SetUp() override {
    batch = std::make_unique<write_batch>(GetParam());
    if (GetParam() == engine::io_uring && batch->used() != engine::io_uring)
      std::fprintf(stderr, "io_uring unavailable here (%s): the sendmsg engine is what runs\n", batch->fallback_reason().c_str());
    if (GetParam() == engine::sendmsg) EXPECT_EQ(batch->used(), engine::sendmsg);
  }
  std::unique_ptr<write_batch> batch;
  std::vector<std::pair<int, ssize_t>> log;
};

TEST_P(WriteBatch, EachWriteLandsWholeOnItsOwnSocketAndIsReportedInOrder) {
  constexpr int kSockets = 40;
  std::vector<socket_pair> pairs(kSockets);
  std::vector<recorder> writers(kSockets);
  std::vector<std::vector<std::string>> parts(kSockets);
  for (int i = 0; i < kSockets; ++i) {
    writers[i].log = &log;
    writers[i].id = i;
    for (int k = 0; k <= i % 5; ++k) parts[i].push_back("[socket " + std::to_string(i) + " part " + std::to_string(k) + "]");
    stage(*batch, pairs[i].ours, parts[i], writers[i]);
  }
  EXPECT_EQ(batch->staged(), size_t(kSockets));
  batch->send();
  EXPECT_EQ(batch->staged(), 0u);
  ASSERT_EQ(log.size(), size_t(kSockets));
  for (int i = 0; i < kSockets; ++i) {
    std::string want;
    for (auto& p : parts[i]) want += p;
    EXPECT_EQ(log[i].first, i);
    EXPECT_EQ(log[i].second, ssize_t(want.size()));
    EXPECT_EQ(pairs[i].read_all(), want);
  }
}

TEST_P(WriteBatch, AFullSocketAnswersAtOnceAndTheOthersAreWritten) {
  socket_pair full, open_a, open_b;
  full.fill();
  recorder a(&log, 0), f(&log, 1), b(&log, 2);
  std::vector<std::string> one{"first"}, two{"blocked"}, three{"third"};
  stage(*batch, open_a.ours, one, a);
  stage(*batch, full.ours, two, f);
  stage(*batch, open_b.ours, three, b);
  auto began = std::chrono::steady_clock::now();
  batch->send();
  EXPECT_LT(std::chrono::steady_clock::now() - began, std::chrono::seconds(5));  // it did not wait for the reader
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log[0], std::make_pair(0, ssize_t(5)));
  EXPECT_EQ(log[1], std::make_pair(1, ssize_t(-EAGAIN)));
  EXPECT_EQ(log[2], std::make_pair(2, ssize_t(5)));
  EXPECT_EQ(open_a.read_all(), "first");
  EXPECT_EQ(open_b.read_all(), "third");
}

TEST_P(WriteBatch, AWriteToAPeerThatLeftFailsWithoutASignal) {
  socket_pair gone, open;
  ::close(gone.theirs);
  gone.theirs = -1;
  recorder g(&log, 0), o(&log, 1);
  std::vector<std::string> msg{"hello"};
  stage(*batch, gone.ours, msg, g);
  stage(*batch, open.ours, msg, o);
  batch->send();  // MSG_NOSIGNAL: no SIGPIPE ends the test
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].second, ssize_t(-EPIPE));
  EXPECT_EQ(log[1].second, ssize_t(5));
  EXPECT_EQ(open.read_all(), "hello");
}

TEST_P(WriteBatch, MoreWritesThanOneCallTakesAreSentInTurnAndInOrder) {
  const int n = int(write_batch::kMaxWrites) + 44;
  std::vector<socket_pair> pairs(8);
  std::vector<recorder> writers(n);
  std::vector<std::vector<std::string>> parts(n);
  for (int i = 0; i < n; ++i) {
    writers[i] = recorder(&log, i);
    parts[i] = {std::to_string(i) + ","};
    stage(*batch, pairs[i % 8].ours, parts[i], writers[i]);
  }
  EXPECT_EQ(batch->staged(), size_t(n) - write_batch::kMaxWrites);  // the first call's went when the batch was full
  batch->send();
  ASSERT_EQ(log.size(), size_t(n));
  for (int i = 0; i < n; ++i) EXPECT_EQ(log[i].first, i);
  for (int s = 0; s < 8; ++s) {
    std::string want;
    for (int i = s; i < n; i += 8) want += std::to_string(i) + ",";
    EXPECT_EQ(pairs[s].read_all(), want);  // each socket's writes in the order staged
  }
}

TEST_P(WriteBatch, BuffersBeyondThePoolStartANewCall) {
  // Writes of many buffers each: the pool of kMaxBuffers fills before the writes run out, and a
  // write is not split for want of room.
  socket_pair p;
  std::vector<std::string> parts(700, "x");
  std::vector<recorder> writers(12);
  for (int i = 0; i < 12; ++i) {
    writers[i] = recorder(&log, i);
    stage(*batch, p.ours, parts, writers[i]);
  }
  batch->send();
  ASSERT_EQ(log.size(), 12u);
  for (int i = 0; i < 12; ++i) EXPECT_EQ(log[i], std::make_pair(i, ssize_t(700)));
  EXPECT_EQ(p.read_all(), std::string(700 * 12, 'x'));
}

INSTANTIATE_TEST_SUITE_P(Engines, WriteBatch, ::testing::Values(engine::io_uring, engine::sendmsg),
                         [](const auto& info) { return info.param == engine::io_uring ? "io_uring" : "sendmsg"; });

}  // namespace
}  // namespace tributary
