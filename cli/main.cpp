#include <cstdio>

int main() {
    std::puts("r1vk: under construction");
    return 0;
}
