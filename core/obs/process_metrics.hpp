#pragma once
// The standard process_* metrics of Prometheus client libraries, read from /proc when
// scraped, and tributary_build_info{version}.
namespace tributary {

class metrics;

// Registers the collector on `m`, which must outlive nothing it reads (it reads only /proc).
void add_process_metrics(metrics& m);

}  // namespace tributary
