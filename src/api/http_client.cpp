#include "src/api/http_client.h"

#include "src/core/text.h"

#include <dlfcn.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <mutex>

#include <curl/curl.h>
#include <spdlog/spdlog.h>
#include <uv.h>

namespace drover::api {
namespace {

// libcurl, loaded with dlopen on first use: linking it would make every drover start resolve
// libcurl and the dozen TLS/compression libraries behind it (about 3 ms per run).
struct CurlApi {
  decltype(&curl_global_init) global_init;
  decltype(&curl_easy_init) easy_init;
  decltype(&curl_easy_setopt) easy_setopt;
  decltype(&curl_easy_getinfo) easy_getinfo;
  decltype(&curl_easy_cleanup) easy_cleanup;
  decltype(&curl_easy_strerror) easy_strerror;
  decltype(&curl_multi_init) multi_init;
  decltype(&curl_multi_setopt) multi_setopt;
  decltype(&curl_multi_add_handle) multi_add_handle;
  decltype(&curl_multi_remove_handle) multi_remove_handle;
  decltype(&curl_multi_socket_action) multi_socket_action;
  decltype(&curl_multi_assign) multi_assign;
  decltype(&curl_multi_info_read) multi_info_read;
  decltype(&curl_multi_cleanup) multi_cleanup;
  decltype(&curl_slist_append) slist_append;
  decltype(&curl_slist_free_all) slist_free_all;
};

const CurlApi* load_curl(std::string& error) {
  static CurlApi api;
  static std::string load_error;
  static std::once_flag once;
  static bool loaded = false;
  std::call_once(once, [] {
    void* lib = ::dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) {
      const char* why = ::dlerror();
      load_error = std::string("cannot load libcurl (libcurl.so.4): ") + (why ? why : "unknown");
      return;
    }
    bool ok = true;
    auto sym = [&](auto& fn, const char* name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(::dlsym(lib, name));
      if (fn == nullptr) {
        ok = false;
        load_error = std::string("libcurl lacks ") + name;
      }
    };
    sym(api.global_init, "curl_global_init");
    sym(api.easy_init, "curl_easy_init");
    sym(api.easy_setopt, "curl_easy_setopt");
    sym(api.easy_getinfo, "curl_easy_getinfo");
    sym(api.easy_cleanup, "curl_easy_cleanup");
    sym(api.easy_strerror, "curl_easy_strerror");
    sym(api.multi_init, "curl_multi_init");
    sym(api.multi_setopt, "curl_multi_setopt");
    sym(api.multi_add_handle, "curl_multi_add_handle");
    sym(api.multi_remove_handle, "curl_multi_remove_handle");
    sym(api.multi_socket_action, "curl_multi_socket_action");
    sym(api.multi_assign, "curl_multi_assign");
    sym(api.multi_info_read, "curl_multi_info_read");
    sym(api.multi_cleanup, "curl_multi_cleanup");
    sym(api.slist_append, "curl_slist_append");
    sym(api.slist_free_all, "curl_slist_free_all");
    if (ok && api.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      ok = false;
      load_error = "curl_global_init failed";
    }
    loaded = ok;
  });
  if (!loaded) {
    error = load_error;
    return nullptr;
  }
  return &api;
}

}  // namespace

std::optional<std::string> HttpOutcome::header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers)
    if (name == lower_name) return value;
  return std::nullopt;
}

struct Transfer;

// One uv_poll per socket curl asks us to watch; freed in its close callback.
struct SocketWatch {
  uv_poll_t poll;
  curl_socket_t fd;
  HttpClient::Impl* impl;
};

struct Transfer {
  uint64_t id = 0;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  HttpRequest request;
  HttpCallbacks callbacks;
  HttpOutcome outcome;
  uint64_t started_at = 0;
  bool headers_done = false;
  bool cancel_requested = false;
  std::optional<std::string> callback_error;  ///< on_headers or on_body threw
  char error_buffer[CURL_ERROR_SIZE] = {};
  HttpClient::Impl* impl = nullptr;
};

struct HttpClient::Impl {
  Loop& loop;
  const CurlApi& curl;
  CURLM* multi = nullptr;
  uv_timer_t timer{};
  uv_async_t keepalive{};  // referenced while transfers are in flight: keeps uv_run going
  uv_timer_t deferred{};   // finishes transfers cancelled from inside a curl callback
  int curl_depth = 0;      // > 0 while curl is on the stack (its callbacks may not remove handles)
  std::map<uint64_t, std::unique_ptr<Transfer>> transfers;
  uint64_t next_id = 1;
  int open_handles = 0;

  Impl(Loop& l, const CurlApi& c) : loop(l), curl(c) {}

  void update_keepalive() {
    if (transfers.empty())
      uv_unref(reinterpret_cast<uv_handle_t*>(&keepalive));
    else
      uv_ref(reinterpret_cast<uv_handle_t*>(&keepalive));
  }

  static int on_socket(CURL*, curl_socket_t fd, int what, void* userp, void* socketp) noexcept {
    auto* impl = static_cast<Impl*>(userp);
    auto* watch = static_cast<SocketWatch*>(socketp);
    if (what == CURL_POLL_REMOVE) {
      if (watch != nullptr) {
        impl->curl.multi_assign(impl->multi, fd, nullptr);
        uv_poll_stop(&watch->poll);
        uv_close(reinterpret_cast<uv_handle_t*>(&watch->poll), [](uv_handle_t* h) {
          delete static_cast<SocketWatch*>(h->data);
        });
      }
      return 0;
    }
    if (watch == nullptr) {
      int rc = -1;  // curl fails the transfer when its socket cannot be watched
      guarded("the HTTP socket registration", [&] {
        watch = new SocketWatch{{}, fd, impl};
        rc = 0;
      });
      if (rc != 0) return rc;
      if (uv_poll_init_socket(impl->loop.uv(), &watch->poll, fd) != 0) {
        delete watch;
        return -1;
      }
      watch->poll.data = watch;
      // Liveness comes from the keepalive handle, not from sockets curl keeps cached.
      uv_unref(reinterpret_cast<uv_handle_t*>(&watch->poll));
      impl->curl.multi_assign(impl->multi, fd, watch);
    }
    int events = 0;
    if (what & CURL_POLL_IN) events |= UV_READABLE;
    if (what & CURL_POLL_OUT) events |= UV_WRITABLE;
    uv_poll_start(&watch->poll, events, &Impl::on_poll);
    return 0;
  }

  static void on_poll(uv_poll_t* handle, int status, int events) noexcept {
    auto* watch = static_cast<SocketWatch*>(handle->data);
    int flags = 0;
    if (status < 0) flags |= CURL_CSELECT_ERR;
    if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
    Impl* impl = watch->impl;
    guarded("the HTTP socket watcher", [&] {
      int running = 0;
      ++impl->curl_depth;
      impl->curl.multi_socket_action(impl->multi, watch->fd, flags, &running);
      --impl->curl_depth;
      impl->collect_finished();
    });
  }

  static int on_timer_request(CURLM*, long timeout_ms, void* userp) noexcept {
    auto* impl = static_cast<Impl*>(userp);
    if (timeout_ms < 0)
      uv_timer_stop(&impl->timer);
    else  // 0 means "now": the timer fires on the next loop iteration, outside curl's callback
      uv_timer_start(&impl->timer, &Impl::on_timeout, static_cast<uint64_t>(timeout_ms), 0);
    return 0;
  }

  static void on_timeout(uv_timer_t* timer) noexcept {
    auto* impl = static_cast<Impl*>(timer->data);
    guarded("the HTTP timer", [&] {
      int running = 0;
      ++impl->curl_depth;
      impl->curl.multi_socket_action(impl->multi, CURL_SOCKET_TIMEOUT, 0, &running);
      --impl->curl_depth;
      impl->collect_finished();
    });
  }

  static void on_deferred(uv_timer_t* timer) noexcept {
    auto* impl = static_cast<Impl*>(timer->data);
    guarded("the HTTP cancel timer", [&] {
      std::vector<uint64_t> ids;
      for (const auto& [id, t] : impl->transfers)
        if (t->cancel_requested) ids.push_back(id);
      for (uint64_t id : ids) impl->finish(id, CURLE_ABORTED_BY_CALLBACK);
    });
  }

  static size_t on_header_line(char* data, size_t size, size_t count, void* userp) noexcept {
    auto* t = static_cast<Transfer*>(userp);
    const size_t n = size * count;
    std::string_view line(data, n);
    if (t->cancel_requested) return 0;
    if (line.rfind("HTTP/", 0) == 0) {
      // A new response (after 1xx or a redirect): start over.
      t->outcome.headers.clear();
      size_t sp = line.find(' ');
      t->outcome.status = sp == std::string_view::npos ? 0 : std::atoi(std::string(line.substr(sp + 1, 3)).c_str());
      return n;
    }
    std::string_view trimmed = text::trim(line);
    if (trimmed.empty()) {
      if (t->outcome.status >= 200 && !t->headers_done) {
        t->headers_done = true;
        t->outcome.first_byte_ms = elapsed(t);
        if (t->callbacks.on_headers)
          guarded("the HTTP header callback",
                  [&] { t->callbacks.on_headers(t->outcome.status, t->outcome); },
                  [t](const std::string& message) { t->impl->callback_failed(*t, message); });
      }
      return t->cancel_requested ? 0 : n;
    }
    size_t colon = trimmed.find(':');
    if (colon != std::string_view::npos)
      t->outcome.headers.emplace_back(text::lower(trimmed.substr(0, colon)),
                                      std::string(text::trim(trimmed.substr(colon + 1))));
    return n;
  }

  static size_t on_body(char* data, size_t size, size_t count, void* userp) noexcept {
    auto* t = static_cast<Transfer*>(userp);
    const size_t n = size * count;
    if (t->cancel_requested) return 0;  // aborts the transfer (CURLE_WRITE_ERROR)
    if (t->callbacks.on_body)
      guarded("the HTTP body callback", [&] { t->callbacks.on_body(std::string_view(data, n)); },
              [t](const std::string& message) { t->impl->callback_failed(*t, message); });
    return t->cancel_requested ? 0 : n;
  }

  // The owner's callback threw: the transfer ends now (curl is on the stack: returning 0 from
  // the curl callback aborts it) and its outcome says why.
  void callback_failed(Transfer& t, const std::string& message) {
    if (!t.callback_error) t.callback_error = message;
    t.cancel_requested = true;
  }

  static double elapsed(const Transfer* t) {
    return static_cast<double>(uv_hrtime() - t->started_at) / 1e6;
  }

  void collect_finished() {
    int pending = 0;
    while (CURLMsg* msg = curl.multi_info_read(multi, &pending)) {
      if (msg->msg != CURLMSG_DONE) continue;
      Transfer* t = nullptr;
      curl.easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&t));
      if (t == nullptr) continue;
      finish(t->id, msg->data.result);
    }
  }

  void finish(uint64_t id, CURLcode code) {
    auto it = transfers.find(id);
    if (it == transfers.end()) return;
    std::unique_ptr<Transfer> t = std::move(it->second);
    transfers.erase(it);
    HttpOutcome& out = t->outcome;
    out.elapsed_ms = elapsed(t.get());
    spdlog::debug("http {} {} finished: curl code {} ({}), status {}", t->request.method,
                  t->request.url, static_cast<int>(code), curl.easy_strerror(code), out.status);
    if (t->callback_error) {
      out.callback_error = std::move(t->callback_error);
    } else if (t->cancel_requested) {
      out.cancelled = true;
    } else if (code != CURLE_OK) {
      if (code == CURLE_OPERATION_TIMEDOUT) {
        out.timed_out = true;
        // The total deadline, as opposed to a connect or idle (low-speed) timeout.
        out.total_deadline = t->request.total_timeout_ms &&
                             out.elapsed_ms + 20 >= static_cast<double>(*t->request.total_timeout_ms);
      }
      // curl's message names host and port at most: URLs here never carry a key.
      out.transport_error = t->error_buffer[0] ? std::string(t->error_buffer)
                                               : std::string(curl.easy_strerror(code));
    }
    curl.multi_remove_handle(multi, t->easy);
    curl.easy_cleanup(t->easy);
    curl.slist_free_all(t->headers);
    update_keepalive();
    auto on_done = std::move(t->callbacks.on_done);
    HttpOutcome result = std::move(out);  // `out` lives in *t, which goes now
    t.reset();
    // The transfer is gone: nothing is left here to fail when on_done throws.
    if (on_done) guarded("the HTTP completion callback", [&] { on_done(std::move(result)); });
  }
};

HttpClient::HttpClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpClient* HttpClient::for_loop(Loop& loop, Error& error) {
  if (auto* existing = loop.service("http")) return static_cast<HttpClient*>(existing);
  std::string why;
  const CurlApi* curl = load_curl(why);
  if (curl == nullptr) {
    error = Error::make(ErrorCode::unsupported_capability, why);
    return nullptr;
  }
  auto impl = std::make_unique<Impl>(loop, *curl);
  impl->multi = curl->multi_init();
  if (impl->multi == nullptr) {
    error = Error::make(ErrorCode::harness_error, "curl_multi_init failed");
    return nullptr;
  }
  Impl* raw = impl.get();
  curl->multi_setopt(raw->multi, CURLMOPT_SOCKETFUNCTION, &Impl::on_socket);
  curl->multi_setopt(raw->multi, CURLMOPT_SOCKETDATA, raw);
  curl->multi_setopt(raw->multi, CURLMOPT_TIMERFUNCTION, &Impl::on_timer_request);
  curl->multi_setopt(raw->multi, CURLMOPT_TIMERDATA, raw);
  uv_timer_init(loop.uv(), &raw->timer);
  raw->timer.data = raw;
  uv_unref(reinterpret_cast<uv_handle_t*>(&raw->timer));
  uv_async_init(loop.uv(), &raw->keepalive, nullptr);
  raw->keepalive.data = raw;
  uv_unref(reinterpret_cast<uv_handle_t*>(&raw->keepalive));
  uv_timer_init(loop.uv(), &raw->deferred);
  raw->deferred.data = raw;
  auto* client = new HttpClient(std::move(impl));
  loop.add_service("http", std::unique_ptr<LoopService>(client));
  return client;
}

HttpClient::~HttpClient() {
  Impl& impl = *impl_;
  // Complete whatever is still in flight as cancelled, then tear curl down. curl_multi_cleanup
  // reports its sockets as removed, which closes their polls.
  stop_all(StopCause::shutdown);
  impl.curl.multi_cleanup(impl.multi);
  // The Impl must outlive the close callbacks of the timer and keepalive handles.
  Impl* raw = impl_.release();
  raw->open_handles = 3;
  auto closed = [](uv_handle_t* h) {
    auto* owner = static_cast<Impl*>(h->data);
    if (--owner->open_handles == 0) delete owner;
  };
  uv_close(reinterpret_cast<uv_handle_t*>(&raw->timer), closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&raw->keepalive), closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&raw->deferred), closed);
}

size_t HttpClient::in_flight() const noexcept { return impl_ ? impl_->transfers.size() : 0; }

uint64_t HttpClient::start(HttpRequest request, HttpCallbacks callbacks, Error& error) {
  Impl& impl = *impl_;
  const CurlApi& curl = impl.curl;
  auto t = std::make_unique<Transfer>();
  t->id = impl.next_id++;
  t->impl = &impl;
  t->request = std::move(request);
  t->callbacks = std::move(callbacks);
  t->easy = curl.easy_init();
  if (t->easy == nullptr) {
    error = Error::make(ErrorCode::harness_error, "curl_easy_init failed");
    return 0;
  }
  CURL* e = t->easy;
  const HttpRequest& r = t->request;
  curl.easy_setopt(e, CURLOPT_URL, r.url.c_str());
  curl.easy_setopt(e, CURLOPT_NOSIGNAL, 1L);  // no SIGALRM for DNS timeouts: we own signals
  curl.easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl.easy_setopt(e, CURLOPT_PRIVATE, t.get());
  curl.easy_setopt(e, CURLOPT_ERRORBUFFER, t->error_buffer);
  curl.easy_setopt(e, CURLOPT_HEADERFUNCTION, &Impl::on_header_line);
  curl.easy_setopt(e, CURLOPT_HEADERDATA, t.get());
  curl.easy_setopt(e, CURLOPT_WRITEFUNCTION, &Impl::on_body);
  curl.easy_setopt(e, CURLOPT_WRITEDATA, t.get());
  curl.easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
  curl.easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl.easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(r.connect_timeout_ms));
  if (r.total_timeout_ms) curl.easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(*r.total_timeout_ms));
  if (r.idle_timeout_ms) {
    // "Slower than 1 byte/s for N seconds" is curl's idle detector (whole seconds).
    curl.easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl.easy_setopt(e, CURLOPT_LOW_SPEED_TIME,
                     static_cast<long>(std::max<int64_t>(1, (*r.idle_timeout_ms + 999) / 1000)));
  }
  if (r.method == "GET") {
    curl.easy_setopt(e, CURLOPT_HTTPGET, 1L);
  } else {
    curl.easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
    curl.easy_setopt(e, CURLOPT_POSTFIELDS, r.body.c_str());  // t->request outlives the transfer
    if (r.method != "POST") curl.easy_setopt(e, CURLOPT_CUSTOMREQUEST, r.method.c_str());
  }
  for (const auto& [name, value] : r.headers)
    t->headers = curl.slist_append(t->headers, (name + ": " + value).c_str());
  t->headers = curl.slist_append(t->headers, "Expect:");  // no 100-continue round trip
  curl.easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);

  t->started_at = uv_hrtime();
  const uint64_t id = t->id;
  Transfer* raw = t.get();
  impl.transfers.emplace(id, std::move(t));
  if (curl.multi_add_handle(impl.multi, raw->easy) != CURLM_OK) {
    curl.easy_cleanup(raw->easy);
    curl.slist_free_all(raw->headers);
    impl.transfers.erase(id);
    error = Error::make(ErrorCode::harness_error, "curl_multi_add_handle failed");
    return 0;
  }
  impl.update_keepalive();
  return id;
}

void HttpClient::cancel(uint64_t id) {
  Impl& impl = *impl_;
  auto it = impl.transfers.find(id);
  if (it == impl.transfers.end()) return;
  it->second->cancel_requested = true;
  if (impl.curl_depth > 0)
    uv_timer_start(&impl.deferred, &Impl::on_deferred, 0, 0);
  else
    impl.finish(id, CURLE_ABORTED_BY_CALLBACK);
}

void HttpClient::stop_all(StopCause) {
  if (!impl_) return;
  std::vector<uint64_t> ids;
  for (const auto& [id, t] : impl_->transfers) ids.push_back(id);
  for (uint64_t id : ids) cancel(id);
}

}  // namespace drover::api
