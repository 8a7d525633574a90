// One sigaction call for the chat's handlers: `restart` says whether a read the signal interrupts is
// restarted (SA_RESTART) or returns EINTR.
#pragma once

#include <csignal>

namespace r1vk::cli {

inline void handle_signal(int sig, void (*fn)(int), bool restart) {
    struct sigaction sa {};
    sa.sa_handler = fn;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = restart ? SA_RESTART : 0;
    sigaction(sig, &sa, nullptr);
}

}  // namespace r1vk::cli
