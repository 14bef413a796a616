// Built against ABI 1.99, newer than the host's minor: refused, naming both versions.
#include <tributary/abi.h>

static trib_plugin_descriptor d = {sizeof(trib_plugin_descriptor), TRIB_ABI_MAJOR, TRIB_ABI_MINOR + 99, nullptr,
                                   nullptr, nullptr, nullptr, nullptr, nullptr};
extern "C" TRIB_EXPORT const trib_plugin_descriptor* tributary_plugin_entry(void) { return &d; }
