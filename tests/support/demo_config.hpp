#pragma once
// Config fragments the end-to-end tests share: the demo cassettes' spot feed.
#include <string>

namespace tributary::test_support {

// [plugins.binance] and a price feed of the seven symbols config/demo-cassettes answers for.
inline std::string demo_spot_feed(const std::string& every) {
  return R"([plugins.binance]
[feeds.spot]
kind = "price"
subjects = ["BTC-USDT", "ETH-USDT", "SOL-USDT", "XRP-USDT", "ADA-USDT", "LINK-USDT", "BNB-USDT"]
every = ")" + every + R"("
sources = ["binance"]
)";
}

}  // namespace tributary::test_support
