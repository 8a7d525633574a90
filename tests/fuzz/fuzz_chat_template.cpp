// The chat-template renderer (Jinja subset). Part 0 is template source, part 1 the messages JSON.
// With only one part, that part is the messages for the built-in R1 template. Errors must be
// r1vk::Error (bad template / messages), never a crash, a hang or a foreign exception.
#include "common/error.h"
#include "loader/chat_template.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace r1vk;
    auto parts = fuzz::split_parts({reinterpret_cast<const char*>(data), size});
    try {
        if (parts.size() == 1) {
            static const ChatTemplate r1 =
                ChatTemplate::from_source(ChatTemplate::builtin_r1_template(), "<bos>", "<eos>", "r1");
            (void)r1.render_json(std::string(parts[0]), true);
        } else {
            ChatTemplate t = ChatTemplate::from_source(std::string(parts[0]), "<bos>", "<eos>", "fuzz");
            (void)t.render_json(std::string(parts[1]), parts.size() > 2);
        }
    } catch (const Error&) {
    }
    return 0;
}
