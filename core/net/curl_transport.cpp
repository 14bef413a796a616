#include <curl/curl.h>

#include <atomic>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_set>
#include <vector>

#include "net/transport.hpp"
#include "util/clock.hpp"
#include "util/thread_name.hpp"

namespace tributary {
namespace {

struct transfer {
  http_request request;
  http_transport::callback done;
  http_response response;
  curl_slist* headers = nullptr;
  size_t max_body = 0;
  bool too_large = false;
  char errbuf[CURL_ERROR_SIZE] = {0};
};

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<transfer*>(user);
  size_t len = size * n;
  if (t->response.body.size() + len > t->max_body) {
    t->too_large = true;
    return 0;  // aborts the transfer
  }
  t->response.body.append(data, len);
  return len;
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<transfer*>(user);
  std::string_view line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) {  // a new response (after a 100 Continue or redirect)
    t->response.headers.clear();
    return size * n;
  }
  auto colon = line.find(':');
  if (colon == std::string_view::npos) return size * n;
  auto trim = [](std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == '\r' || s.back() == '\n' || s.back() == ' ')) s.remove_suffix(1);
    return std::string(s);
  };
  t->response.headers.emplace_back(trim(line.substr(0, colon)), trim(line.substr(colon + 1)));
  return size * n;
}

class curl_transport final : public http_transport {
 public:
  curl_transport(const clock_source& clock, curl_options opts) : clock_(clock), opts_(std::move(opts)) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    multi_ = curl_multi_init();
    thread_ = std::thread([this] { loop(); });
    name_thread(thread_, "http-client");
  }

  ~curl_transport() override {
    shutdown();
    curl_multi_cleanup(multi_);
  }

  void shutdown() override {
    {
      std::lock_guard lk(mu_);
      if (stop_) return;
      stop_ = true;
    }
    curl_multi_wakeup(multi_);
    thread_.join();
  }

  void send(http_request request, callback done) override {
    {
      std::lock_guard lk(mu_);
      if (!stop_) {
        auto t = std::make_unique<transfer>();
        t->request = std::move(request);
        t->done = std::move(done);
        t->max_body = opts_.max_body_bytes;
        pending_.push_back(std::move(t));
        curl_multi_wakeup(multi_);
        return;
      }
    }
    done(stopped_response());
  }

 private:
  http_response stopped_response() const {
    http_response r;
    r.status = 0;
    r.error = "transport stopped";
    r.received_ms = clock_.now_ms();
    return r;
  }

  void start(std::unique_ptr<transfer> t) {
    CURL* e = curl_easy_init();
    active_.insert(e);
    const auto& r = t->request;
    std::string url = r.url();
    curl_easy_setopt(e, CURLOPT_URL, url.c_str());
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");  // every encoding libcurl supports
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(r.timeout.count()));
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(r.timeout.count()));
    curl_easy_setopt(e, CURLOPT_USERAGENT, opts_.user_agent.c_str());
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t.get());
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, t.get());
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
    curl_easy_setopt(e, CURLOPT_PRIVATE, t.get());
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    if (r.method != "GET") curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r.method.c_str());
    if (!r.body.empty()) {
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, static_cast<long>(r.body.size()));
      curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, r.body.c_str());
    }
    for (const auto& [k, v] : r.headers) t->headers = curl_slist_append(t->headers, (k + ": " + v).c_str());
    if (t->headers) curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
    curl_multi_add_handle(multi_, e);
    t.release();  // owned through CURLOPT_PRIVATE until finish()
  }

  void finish(CURL* e, CURLcode code) {
    transfer* raw = nullptr;
    curl_easy_getinfo(e, CURLINFO_PRIVATE, &raw);
    std::unique_ptr<transfer> t(raw);
    active_.erase(e);
    curl_multi_remove_handle(multi_, e);
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(e);
    curl_slist_free_all(t->headers);
    auto& resp = t->response;
    resp.received_ms = clock_.now_ms();
    if (code == CURLE_OK) {
      resp.status = static_cast<int>(status);
    } else {
      resp.status = 0;
      if (t->too_large)
        resp.error = "response body exceeds " + std::to_string(t->max_body) + " bytes";
      else if (code == CURLE_ABORTED_BY_CALLBACK && stop_)
        resp.error = "transport stopped";
      else if (code == CURLE_OPERATION_TIMEDOUT)
        resp.error = "timed out after " + std::to_string(t->request.timeout.count()) + "ms";
      else
        resp.error = std::string(curl_easy_strerror(code)) + (t->errbuf[0] ? std::string(": ") + t->errbuf : "");
    }
    t->done(std::move(resp));
  }

  void loop() {
    while (!stop_) {
      std::deque<std::unique_ptr<transfer>> batch;
      {
        std::lock_guard lk(mu_);
        batch.swap(pending_);
      }
      for (auto& t : batch) start(std::move(t));
      int running = 0;
      curl_multi_perform(multi_, &running);
      int left = 0;
      while (CURLMsg* m = curl_multi_info_read(multi_, &left))
        if (m->msg == CURLMSG_DONE) finish(m->easy_handle, m->data.result);
      curl_multi_poll(multi_, nullptr, 0, 1000, nullptr);
    }
    // Stopping: every transfer, started or not, gets its callback, so no caller waits forever.
    std::vector<CURL*> in_flight(active_.begin(), active_.end());
    for (CURL* e : in_flight) finish(e, CURLE_ABORTED_BY_CALLBACK);
    std::deque<std::unique_ptr<transfer>> waiting;
    {
      std::lock_guard lk(mu_);
      waiting.swap(pending_);
    }
    for (auto& t : waiting) t->done(stopped_response());
  }

  const clock_source& clock_;
  curl_options opts_;
  CURLM* multi_ = nullptr;
  std::mutex mu_;
  std::deque<std::unique_ptr<transfer>> pending_;
  std::unordered_set<CURL*> active_;  // started, not finished; touched by the loop thread only
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace

std::unique_ptr<http_transport> make_curl_transport(const clock_source& clock, curl_options opts) {
  return std::make_unique<curl_transport>(clock, std::move(opts));
}

}  // namespace tributary
