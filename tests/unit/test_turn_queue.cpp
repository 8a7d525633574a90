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

// A queue of two places: the first request generating, a second one waiting its turn on a thread.
struct OneWaiting {
    TurnQueue q{2};
    std::atomic<int> waited{-1};
    std::thread waiter;
    OneWaiting() {
        EXPECT_EQ(q.enter(), Turn::Taken);
        waiter = std::thread([this] { waited = int(q.enter()); });
        EXPECT_TRUE(eventually([&] { return q.admitted() == 2; }));
    }
    ~OneWaiting() {
        if (waiter.joinable()) waiter.join();
    }
};

TEST(TurnQueue, BusyPastTheLimitAndShuttingDownForTheWaiting) {
    OneWaiting w;
    // The waiter holds the second place: a third request is refused as busy, at once.
    EXPECT_EQ(w.q.enter(), Turn::Busy);
    EXPECT_EQ(w.waited.load(), -1) << "the waiter took a turn that was not free";
    w.q.shut_down();
    w.waiter.join();
    EXPECT_EQ(w.waited.load(), int(Turn::ShuttingDown));
    EXPECT_EQ(w.q.enter(), Turn::ShuttingDown) << "after the shutdown a new request is not 'busy'";
    w.q.leave();
}

TEST(TurnQueue, AWaitingRequestTakesTheTurnWhenItIsGivenBack) {
    OneWaiting w;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_EQ(w.waited.load(), -1) << "the second request did not wait for the first";
    w.q.leave();
    w.waiter.join();
    EXPECT_EQ(w.waited.load(), int(Turn::Taken));
    w.q.leave();
}

}  // namespace
}  // namespace r1vk::server
