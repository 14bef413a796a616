#include <algorithm>
#include <cmath>

#include "plugin/backend.hpp"
#include "record/canonical_json.hpp"

namespace tributary {

using json = nlohmann::json;

namespace {

std::string str(trib_str s) { return s.ptr ? std::string(s.ptr, s.len) : std::string(); }
std::string_view view(trib_str s) { return s.ptr ? std::string_view(s.ptr, s.len) : std::string_view(); }

http_request request_of(const trib_http_request* q) {
  http_request h;
  h.method = q->method.len ? str(q->method) : "GET";
  h.base_url = str(q->base_url);
  h.path = str(q->path);
  for (size_t i = 0; i < q->query_count; ++i) h.query.emplace_back(str(q->query[i].key), str(q->query[i].value));
  for (size_t i = 0; i < q->header_count; ++i) h.headers.emplace_back(str(q->headers[i].key), str(q->headers[i].value));
  h.body = str(q->body);
  h.weight = request_weight(q->weight);
  h.tag = str(q->tag);
  return h;
}

stream_plan::kind upstream_of(int32_t u) {
  switch (u) {
    case TRIB_UPSTREAM_WEBSOCKET: return stream_plan::kind::websocket;
    case TRIB_UPSTREAM_REDIS_PUBSUB: return stream_plan::kind::redis_pubsub;
    case TRIB_UPSTREAM_REDIS_STREAM: return stream_plan::kind::redis_stream;
    case TRIB_UPSTREAM_KAFKA: return stream_plan::kind::kafka;
    default: return stream_plan::kind::unknown;
  }
}

stream_plan stream_of(const trib_stream_plan* p) {
  stream_plan sp;
  sp.upstream = upstream_of(p->upstream);
  sp.url = str(p->url);
  for (size_t i = 0; i < p->channel_count; ++i) sp.channels.push_back(str(p->channels[i]));
  for (size_t i = 0; i < p->pattern_count; ++i) sp.patterns.push_back(str(p->patterns[i]));
  sp.group = str(p->group);
  sp.consumer = str(p->consumer);
  sp.expected_interval_ms = std::max<int64_t>(0, p->expected_interval_ms);
  if (TRIB_HAS_MEMBER(p, trib_stream_plan, max_connection_ms)) {
    for (size_t i = 0; i < p->subscribe_frame_count; ++i) sp.subscribe_frames.push_back(str(p->subscribe_frames[i]));
    sp.max_connection_ms = std::max<int64_t>(0, p->max_connection_ms);
  }
  if (TRIB_HAS_MEMBER(p, trib_stream_plan, client_setting_count)) {
    sp.start = p->start == TRIB_START_EARLIEST ? stream_plan::start_at::earliest : stream_plan::start_at::latest;
    for (size_t i = 0; i < p->client_setting_count; ++i)
      sp.client_settings.emplace_back(str(p->client_settings[i].key), str(p->client_settings[i].value));
  }
  return sp;
}

// A number as the record keeps it: integral values as integers (1773154799999, not 1773154799999.0).
json number(double v) {
  if (std::trunc(v) == v && std::fabs(v) < 9007199254740992.0) return static_cast<int64_t>(v);
  return v;
}

}  // namespace

double request_weight(double w) { return std::isfinite(w) && w > 0 ? std::min(w, 1e9) : 1; }

error_class class_of_status(int32_t status) {
  switch (status) {
    case TRIB_ERR_RETRYABLE: return error_class::retryable;
    case TRIB_ERR_RATE_LIMITED: return error_class::rate_limited;
    case TRIB_ERR_AUTH: return error_class::auth;
    case TRIB_ERR_BAD_REQUEST: return error_class::bad_request;
    case TRIB_ERR_BAD_DATA: return error_class::bad_data;
    default: return error_class::internal;
  }
}

int32_t status_of_class(error_class c) {
  switch (c) {
    case error_class::retryable: return TRIB_ERR_RETRYABLE;
    case error_class::rate_limited: return TRIB_ERR_RATE_LIMITED;
    case error_class::auth: return TRIB_ERR_AUTH;
    case error_class::bad_request: return TRIB_ERR_BAD_REQUEST;
    case error_class::bad_data: return TRIB_ERR_BAD_DATA;
    default: return TRIB_ERR_INTERNAL;
  }
}

namespace {
// What a kept result holds on to between calls: a few records (spare_limit_), none with a large
// string, so a burst (one message of many records, one record of 64 KiB) does not pin its size
// for the feed's life.
constexpr size_t kSpareBytes = 16 * 1024;

bool worth_keeping(const record& r) {
  return r.data_text.capacity() <= kSpareBytes && r.native.capacity() <= kSpareBytes && r.subject.capacity() <= kSpareBytes;
}
}  // namespace

void call_result::keep_spare(record&& r) {
  if (spare_.size() < spare_limit_ && worth_keeping(r)) spare_.push_back(std::move(r));
}

void call_result::reset() {
  status = 0;
  requests.clear();
  errors.clear();
  problems.clear();
  for (auto& r : records) keep_spare(std::move(r));
  records.clear();
}

record& call_result::next_record() {
  if (spare_.empty()) return records.emplace_back();
  records.push_back(std::move(spare_.back()));
  spare_.pop_back();
  records.back().clear();
  return records.back();
}

void call_result::drop_last_record() {
  keep_spare(std::move(records.back()));
  records.pop_back();
}

call_output::call_output(call_result& into) : r_(into) {
  r_.reset();
  out_.struct_size = sizeof out_;
  out_.ctx = this;
  out_.emit_request = [](void* ctx, const trib_http_request* q) { static_cast<call_output*>(ctx)->add_request(request_of(q)); };
  out_.emit_record = [](void* ctx, const trib_record* rec) { static_cast<call_output*>(ctx)->add_abi_record(rec); };
  out_.emit_error = [](void* ctx, const trib_error* e) {
    static_cast<call_output*>(ctx)->add_error({class_of_status(e->status), str(e->message), str(e->subject), e->retry_after_ms});
  };
  out_.emit_stream = [](void* ctx, const trib_stream_plan* p) { static_cast<call_output*>(ctx)->set_stream(stream_of(p)); };
}

// A record of an unknown kind, or with a subject its kind does not allow, is dropped.
bool call_output::known(const record& x) {
  if (!vocabulary::known_kind(x.kind)) {
    r_.problems.push_back("record of unknown kind '" + x.kind + "' dropped");
    return false;
  }
  if (auto why = vocabulary::check_subject(x.kind, x.subject)) {
    r_.problems.push_back("record with bad subject '" + x.subject + "' dropped: " + *why);
    return false;
  }
  return true;
}

void call_output::add_record(record x, json data) {
  if (known(x) && keep_json_data(x, std::move(data)) && complete(x)) r_.records.push_back(std::move(x));
}

// Data as one JSON value: kept as is for a free-form kind (`event`); for a kind with a
// vocabulary, held to its fields like typed fields are. False when the record cannot be kept.
bool call_output::keep_json_data(record& x, json data) {
  if (!data.is_object()) {
    r_.errors.push_back({error_class::bad_data, "message data is not a JSON object", x.subject, 0});
    return false;
  }
  if (vocabulary::free_form(x.kind)) {
    if (data.dump().size() > vocabulary::max_free_form_bytes) {
      r_.errors.push_back({error_class::bad_data, "message data over 64 KiB", x.subject, 0});
      return false;
    }
    x.data = std::move(data);
    return true;
  }
  for (auto& [name, v] : data.items()) keep_field(x, name, v.is_number_float() ? number(v.get<double>()) : v);
  return true;
}

// Data given as one JSON object's text. A free-form record's is kept as its canonical text,
// without a DOM (the bytes the parse above would have written); what simdjson does not take
// (an integer past 64 bits, nesting past 1,024) and the data of a kind with a vocabulary go
// through nlohmann, which also says what is wrong with text that is not JSON.
bool call_output::keep_text_data(record& x, std::string_view text) {
  if (text.size() > vocabulary::max_free_form_bytes) {
    r_.errors.push_back({error_class::bad_data, "message data over 64 KiB", x.subject, 0});
    return false;
  }
  if (!vocabulary::free_form(x.kind)) return keep_json_data(x, json::parse(text, nullptr, false));
  switch (canonical_object(text, x.data_text)) {
    case canonical_status::unsupported: return keep_json_data(x, json::parse(text, nullptr, false));
    case canonical_status::not_object:
      r_.errors.push_back({error_class::bad_data, "message data is not a JSON object", x.subject, 0});
      return false;
    case canonical_status::ok: break;
  }
  if (x.data_text.size() <= vocabulary::max_free_form_bytes) return true;
  r_.errors.push_back({error_class::bad_data, "message data over 64 KiB", x.subject, 0});
  return false;
}

void call_output::keep_field(record& x, const std::string& name, const json& v) {
  auto type = vocabulary::field(x.kind, name);
  if (!type) {
    r_.problems.push_back("field '" + name + "' is not in the " + x.kind + " vocabulary; dropped");
    return;
  }
  bool fits = (*type == vocabulary::field_type::number && v.is_number()) ||
              (*type == vocabulary::field_type::string && v.is_string()) ||
              (*type == vocabulary::field_type::boolean && v.is_boolean());
  if (fits) x.data[name] = v;
  else if (!v.is_null()) r_.problems.push_back("field '" + name + "' is not a " + x.kind + " field of that type; dropped");
  else r_.problems.push_back("field '" + name + "' is null (or not a finite number); dropped");
}

// Whether `x` carries its kind's required fields (a contract problem and an error when not).
bool call_output::complete(const record& x) {
  for (const auto& req : vocabulary::required_fields(x.kind))
    if (!x.data.contains(req)) {
      r_.problems.push_back("record " + x.topic() + " lacks required field '" + req + "'; dropped");
      r_.errors.push_back({error_class::bad_data, "no '" + req + "' in the answer", x.subject, 0});
      return false;
    }
  return true;
}

// Built in a record of the result's kept storage: no allocation once it has grown.
void call_output::add_abi_record(const trib_record* rec) {
  record& x = r_.next_record();
  x.kind.assign(view(rec->kind));
  x.subject.assign(view(rec->subject));
  x.native.assign(view(rec->native));
  x.ts = rec->ts_ms;
  bool text = TRIB_HAS_MEMBER(rec, trib_record, data_json) && rec->data_json.len > 0;
  bool kept = known(x) && (text ? keep_text_data(x, view(rec->data_json)) : keep_abi_fields(x, rec)) && complete(x);
  if (!kept) r_.drop_last_record();
}

bool call_output::keep_abi_fields(record& x, const trib_record* rec) {
  for (size_t i = 0; i < rec->field_count; ++i) {
    const trib_field& f = rec->fields[i];
    std::string name = str(f.name);
    auto type = vocabulary::field(x.kind, name);
    if (!type) {
      r_.problems.push_back("field '" + name + "' is not in the " + x.kind + " vocabulary; dropped");
      continue;
    }
    switch (*type) {
      case vocabulary::field_type::number:
        if (f.type != TRIB_FIELD_NUMBER) r_.problems.push_back("field '" + name + "' must be a number; dropped");
        else if (!std::isfinite(f.number)) r_.problems.push_back("field '" + name + "' is not a finite number; dropped");
        else x.data[name] = number(f.number);
        break;
      case vocabulary::field_type::string:
        if (f.type == TRIB_FIELD_STRING) x.data[name] = str(f.string);
        else r_.problems.push_back("field '" + name + "' must be a string; dropped");
        break;
      case vocabulary::field_type::boolean:
        if (f.type == TRIB_FIELD_BOOL) x.data[name] = f.boolean != 0;
        else r_.problems.push_back("field '" + name + "' must be a boolean; dropped");
        break;
    }
  }
  return true;
}

}  // namespace tributary
