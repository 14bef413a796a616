#pragma once
// [dialects.NAME]: an old client protocol declared as a mapping onto ours (docs/clients.md,
// Dialects), and the small template language its messages are written in. A template is JSON
// with placeholders where a JSON value may stand: `{channel}`, `{data}`, `{data.status}`...
// Each placeholder becomes a JSON value (strings quoted and escaped), so nothing a client or a
// record holds can change a message's shape. Pure: no I/O.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/modes.hpp"

namespace tributary {

enum class placeholder : uint8_t {
  id,            // a string unique per message
  now,           // ms since the epoch: the record's `received`, or the time of a reply
  channel,       // the channel the client named
  user,          // the session's user (the token's user claim), null when anonymous
  error,         // why a message was refused
  auth_timeout,  // [server.auth] auth_timeout in seconds
  topic,         // the record's topic, subject, seq; the record's data, or one field of it
  subject,
  seq,
  data,
  data_field,
  record,  // the whole tributary.v1 record
};

class message_template {
 public:
  struct part {
    std::string text;  // literal JSON text before the placeholder
    std::optional<placeholder> value;
    std::string field;  // data_field: the member of `data`
  };
  // Compiles `text`; nullopt with `why` set when a placeholder is unknown or the filled-in
  // text would not be JSON.
  static std::optional<message_template> compile(std::string_view text, std::string& why);
  const std::vector<part>& parts() const { return parts_; }
  bool uses(placeholder p) const;
  bool empty() const { return parts_.empty(); }

  // Appends the message, each placeholder's JSON from `value(p, field, out)`.
  template <class F>
  void render(std::string& out, F&& value) const {
    for (const auto& p : parts_) {
      out += p.text;
      if (p.value) value(*p.value, p.field, out);
    }
  }

 private:
  std::vector<part> parts_;
};


// What a client message of one type does.
struct dialect_receive {
  dialect_action action = dialect_action::reply;
  std::string channel;  // subscribe, unsubscribe: the dotted path of the channel name
  std::string token;    // auth: the dotted path of the token
  message_template reply;
  std::optional<message_template> error;  // refused: instead of the dialect's error
};

// A channel: a literal name, or "*" for any name (then `{channel}` in `topics` takes it).
struct dialect_channel {
  std::string name;
  std::string topics;  // a topic pattern template: {sub} the user's segment, {channel} the name's
  message_template send;  // each record of those topics
};

struct dialect_spec {
  std::string name;
  std::string path;  // served at, on the server's port
  std::string type;  // the dotted path of a client message's type
  std::optional<message_template> on_open;
  std::optional<message_template> error;  // a refused or unknown message; none: no answer
  std::map<std::string, dialect_receive> receive;  // by message type
  std::vector<dialect_channel> channels;           // literal names first, "*" last
};

}  // namespace tributary
