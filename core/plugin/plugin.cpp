#include "plugin/plugin.hpp"

#define BOOST_DLL_USE_STD_FS
#include <boost/dll/shared_library.hpp>

#include <algorithm>
#include <set>

#include <tributary/abi.h>

namespace tributary {

namespace fs = std::filesystem;
using json = nlohmann::json;

static std::string str(trib_str s) { return s.ptr ? std::string(s.ptr, s.len) : std::string(); }

// ---------------------------------------------------------------- library

struct plugin_library::impl {
  boost::dll::shared_library lib;
};

plugin_library::~plugin_library() = default;

namespace {

// Why a descriptor cannot be used by this host (ABI version, size, required functions).
std::optional<std::string> check_descriptor(const trib_plugin_descriptor* d) {
  std::string host_v = std::to_string(TRIB_ABI_MAJOR) + "." + std::to_string(TRIB_ABI_MINOR);
  std::string plug_v = std::to_string(d->abi_major) + "." + std::to_string(d->abi_minor);
  if (d->abi_major != TRIB_ABI_MAJOR)
    return "plugin ABI " + plug_v + " is incompatible with host ABI " + host_v + " (major versions differ)";
  if (d->abi_minor > TRIB_ABI_MINOR) return "plugin ABI " + plug_v + " is newer than host ABI " + host_v + " (upgrade the host)";
  if (d->struct_size < offsetof(trib_plugin_descriptor, parse) + sizeof(d->parse))
    return "descriptor is too small (" + std::to_string(d->struct_size) + " bytes) for ABI " + plug_v;
  if (!d->manifest || !d->create || !d->destroy || !d->plan || !d->parse || !d->map_subject)
    return "descriptor lacks a manifest or a required function";
  const trib_manifest* m = d->manifest;
  if (m->struct_size < offsetof(trib_manifest, settings_schema) + sizeof(m->settings_schema))
    return "manifest is too small for ABI " + plug_v;
  return std::nullopt;
}

// The fields every ABI 1.x manifest has.
std::optional<std::string> read_base_manifest(const trib_manifest* m, plugin_manifest& mf) {
  mf.name = str(m->name);
  mf.version = str(m->version);
  mf.description = str(m->description);
  for (size_t i = 0; i < m->kind_count; ++i) mf.kinds.push_back(str(m->kinds[i]));
  for (size_t i = 0; i < m->secret_count; ++i) mf.secrets.push_back(str(m->secrets[i]));
  for (size_t i = 0; i < m->secret_env_count; ++i) mf.secret_envs.push_back(str(m->secret_envs[i]));
  mf.default_base_url = str(m->default_base_url);
  mf.default_timeout = millis(m->default_timeout_ms > 0 ? m->default_timeout_ms : 10000);
  mf.default_rate_limit = {m->default_rate_limit.requests, millis(m->default_rate_limit.per_ms), m->default_rate_limit.burst};
  mf.settings_schema = json::parse(str(m->settings_schema), nullptr, false);
  if (mf.settings_schema.is_discarded()) return "manifest's settings_schema is not valid JSON";
  if (mf.name.empty()) return "manifest has no name";
  return std::nullopt;
}

// What later minor versions added: budget header (1.1), declared kinds and modes.
std::optional<std::string> read_later_manifest(const trib_plugin_descriptor* d, plugin_manifest& mf) {
  const trib_manifest* m = d->manifest;
  if (m->struct_size >= offsetof(trib_manifest, budget_header_window) + sizeof(m->budget_header_window)) {  // ABI 1.1
    mf.budget_header.name = str(m->budget_header);
    mf.budget_header.counts_used = m->budget_header_counts == TRIB_BUDGET_USED;
    mf.budget_header.window = m->budget_header_window > 0 ? static_cast<size_t>(m->budget_header_window) : 0;
  }
  if (TRIB_HAS_MEMBER(m, trib_manifest, declared_kinds)) {
    auto parsed = vocabulary::parse_declared_kinds(str(m->declared_kinds), mf.name);
    if (auto* why = std::get_if<std::string>(&parsed)) return *why;
    mf.declared_kinds = std::get<std::vector<vocabulary::declared_kind>>(parsed);
    for (auto& k : mf.declared_kinds)
      if (auto why = vocabulary::declare(k)) return *why;
  }
  if (TRIB_HAS_MEMBER(m, trib_manifest, modes) && m->modes != 0) {
    mf.polls = (m->modes & TRIB_MODE_POLL) != 0;
    mf.streams = (m->modes & TRIB_MODE_STREAM) != 0;
  }
  if (mf.streams && !(TRIB_HAS_MEMBER(d, trib_plugin_descriptor, parse_message) && d->plan_stream && d->parse_message))
    return "manifest says it streams, but the descriptor has no plan_stream / parse_message";
  for (auto& k : mf.kinds)
    if (!vocabulary::known_kind(k)) return "manifest declares unknown record kind '" + k + "'";
  return std::nullopt;
}

}  // namespace

std::variant<std::shared_ptr<plugin_library>, std::string> plugin_library::load(const fs::path& path) {
  std::shared_ptr<plugin_library> self(new plugin_library());
  self->impl_ = std::make_unique<impl>();
  std::error_code ec;
  self->impl_->lib.load(path, ec, boost::dll::load_mode::rtld_local | boost::dll::load_mode::rtld_now);
  if (ec) return path.string() + ": cannot load: " + ec.message();
  if (!self->impl_->lib.has(TRIB_ENTRY_SYMBOL))
    return path.string() + ": not a Tributary plugin: no entry symbol `" TRIB_ENTRY_SYMBOL "`";
  auto entry = self->impl_->lib.get<const trib_plugin_descriptor*()>(TRIB_ENTRY_SYMBOL);
  const trib_plugin_descriptor* d = entry();
  if (!d) return path.string() + ": the entry symbol returned no descriptor";
  plugin_manifest& mf = self->manifest_;
  auto why = check_descriptor(d);
  if (!why) why = read_base_manifest(d->manifest, mf);
  mf.abi_major = d->abi_major;
  mf.abi_minor = d->abi_minor;
  mf.path = path;
  if (!why) why = read_later_manifest(d, mf);
  if (why) return path.string() + ": " + *why;
  self->desc_ = d;
  return self;
}

std::vector<discovered_plugin> discover_plugins(const std::vector<fs::path>& dirs) {
  std::vector<discovered_plugin> out;
  std::set<std::string> seen;
  for (const auto& dir : dirs) {
    std::error_code ec;
    std::vector<fs::path> files;
    for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec))
      files.push_back(it->path());
    std::sort(files.begin(), files.end());
    for (const auto& p : files) {
      auto fn = p.filename().string();
      if (fn.rfind("lib", 0) != 0 || p.extension() != ".so") continue;
      auto name = fn.substr(3, fn.size() - 6);
      if (seen.insert(name).second) out.push_back({name, p});
    }
  }
  return out;
}

std::optional<fs::path> find_plugin(const std::vector<fs::path>& dirs, const std::string& name) {
  for (const auto& d : dirs) {
    auto p = d / ("lib" + name + ".so");
    if (fs::exists(p)) return p;
  }
  return std::nullopt;
}

// ---------------------------------------------------------------- http_request

// Percent-encodes all but RFC 3986 unreserved characters (and those in `keep`).
static std::string url_encode(std::string_view s, std::string_view keep = {}) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || keep.find(static_cast<char>(c)) != std::string_view::npos)
      out += static_cast<char>(c);
    else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string http_request::url() const {
  std::string u = base_url;
  while (!u.empty() && u.back() == '/') u.pop_back();
  u += url_encode(path, "/:@!$&'()*+,;=");
  for (size_t i = 0; i < query.size(); ++i)
    u += (i == 0 ? "?" : "&") + url_encode(query[i].first) + "=" + url_encode(query[i].second);
  return u;
}

}  // namespace tributary
