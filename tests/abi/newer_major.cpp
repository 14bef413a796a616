// Built against a future ABI 2.0: the host (1.x) must refuse it, naming both versions.
#include <tributary/abi.h>

static trib_plugin_descriptor d = {sizeof(trib_plugin_descriptor), TRIB_ABI_MAJOR + 1, 0, nullptr,
                                   nullptr, nullptr, nullptr, nullptr, nullptr};
extern "C" TRIB_EXPORT const trib_plugin_descriptor* tributary_plugin_entry(void) { return &d; }
