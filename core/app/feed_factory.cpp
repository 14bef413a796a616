#include "app/feed_factory.hpp"

#include <optional>

#include "plugin/plugin.hpp"
#include "record/record.hpp"
#include "ingest/runtime.hpp"

namespace tributary {

namespace {

// Why `source` cannot run the way feed `fc` runs it, or nullopt.
std::optional<std::string> mode_mismatch(const feed_config& fc, const std::string& source, const source_runtime& s) {
  const auto& mf = s.plugin->manifest();
  bool first = !fc.sources.empty() && fc.sources.front() == source;
  if (fc.stream && first && !mf.streams)
    return "source '" + source + "' cannot stream (plugin '" + mf.name + "' does not); mode = \"stream\" needs a streaming plugin first";
  if ((!fc.stream || !first) && !mf.polls)
    return "source '" + source + "' cannot be polled (plugin '" + mf.name + "' only streams)" +
           (fc.stream ? std::string("; only the first source of a stream feed streams, later ones are polled while it is down")
                      : std::string("; use mode = \"stream\""));
  return std::nullopt;
}

std::optional<std::string> kind_mismatch(const feed_config& fc, const std::string& source, const source_runtime& s) {
  if (s.plugin->serves(fc.kind)) return std::nullopt;
  std::string kinds;
  for (auto& k : s.plugin->manifest().kinds) kinds += (kinds.empty() ? "" : ", ") + k;
  return "source '" + source + "' cannot serve kind '" + fc.kind + "' (it serves " + kinds + ")";
}

// The feed's subjects as `source` names them; false when one cannot be mapped (reported).
bool map_subjects(feed_runtime& f, const std::string& source, const source_runtime& s, const report_error& error) {
  const auto& fc = f.cfg;
  bool all = true;
  for (const auto& subj : fc.subjects) {
    if (fc.stream && subj == "*") continue;  // whatever subjects the stream brings
    auto mapped = s.plugin->map_subject(fc.kind, subj);
    if (auto* e = std::get_if<fetch_error>(&mapped)) {
      error(fc.pos_of("subjects"), "feeds." + fc.id + ".subjects",
            "feed '" + fc.id + "', source '" + source + "' cannot map subject '" + subj + "': " + e->message);
      all = false;
    } else {
      f.subjects[source].emplace_back(subj, std::get<std::string>(mapped));
    }
  }
  return all;
}

}  // namespace

std::shared_ptr<feed_runtime> make_feed(const feed_config& fc, const std::map<std::string, source_runtime*>& sources,
                                        const report_error& error) {
  std::string path = "feeds." + fc.id;
  if (!vocabulary::known_kind(fc.kind)) {
    std::string known;
    for (auto& k : vocabulary::kinds()) known += (known.empty() ? "" : ", ") + k;
    error(fc.pos_of("kind"), path + ".kind",
          "unknown kind '" + fc.kind + "': neither built in nor declared by a configured plugin (known: " + known + ")");
    return nullptr;
  }
  auto f = std::make_shared<feed_runtime>();
  f->cfg = fc;
  for (const auto& name : fc.sources) {
    auto it = sources.find(name);
    if (it == sources.end()) continue;  // its instance failed, already reported
    auto why = mode_mismatch(fc, name, *it->second);
    if (!why) why = kind_mismatch(fc, name, *it->second);
    if (why) {
      error(fc.pos_of("sources"), path + ".sources", *why);
      continue;
    }
    if (map_subjects(*f, name, *it->second, error)) f->sources.push_back(it->second);
  }
  return f;
}

}  // namespace tributary
