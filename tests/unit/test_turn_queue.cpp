// r1vk serve's admission queue without HTTP: one request generates, the others wait their turn in
// order, past --parallel they are refused as busy, and a shutdown refuses the waiting ones as
// shutting down (a client told "busy" would retry a server that is going away).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "server/job.h"

namespace r1vk::server {
namespace {

using Turn = TurnQueue::Turn;

// Waits up to 10 s for `f` to hold.
template <class F>
bool eventually(F f) {
    for (int i = 0; i < 10000 && !f(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return f();
}

TEST(TurnQueue, BusyPastTheLimitAndShuttingDownForTheWaiting) {
    TurnQueue q(2);
    ASSERT_EQ(q.enter(), Turn::Taken);
    std::atomic<int> waited{-1};
    std::thread waiter([&] { waited = int(q.enter()); });
    // Once the waiter holds the second place, a third request is refused as busy, at once.
    ASSERT_TRUE(eventually([&] { return q.admitted() == 2; }));
    EXPECT_EQ(q.enter(), Turn::Busy);
    EXPECT_EQ(waited.load(), -1) << "the waiter took a turn that was not free";
    q.shut_down();
    waiter.join();
    EXPECT_EQ(waited.load(), int(Turn::ShuttingDown));
    EXPECT_EQ(q.enter(), Turn::ShuttingDown) << "after the shutdown a new request is not 'busy'";
    q.leave();
}

TEST(TurnQueue, AWaitingRequestTakesTheTurnWhenItIsGivenBack) {
    TurnQueue q(2);
    ASSERT_EQ(q.enter(), Turn::Taken);
    std::atomic<int> second{-1};
    std::thread t([&] { second = int(q.enter()); });
    ASSERT_TRUE(eventually([&] { return q.admitted() == 2; }));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_EQ(second.load(), -1) << "the second request did not wait for the first";
    q.leave();
    t.join();
    EXPECT_EQ(second.load(), int(Turn::Taken));
    q.leave();
}

}  // namespace
}  // namespace r1vk::server
