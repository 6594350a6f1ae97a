// JSON-RPC 2.0 framing, decoding and connection (src/rpc/jsonrpc.cpp).
#include "src/rpc/jsonrpc.h"

#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace drover::rpc {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using Kind = Message::Kind;

// ---- helpers ------------------------------------------------------------------------------------

struct Split {
  std::vector<std::string> lines;  // too-long prefixes marked with a leading "!"
  LineSplitter::Sink sink() {
    return [this](std::string_view line, bool too_long) {
      lines.push_back((too_long ? "!" : "") + std::string(line));
    };
  }
};

std::vector<std::string> split_all(std::string_view bytes, std::size_t max = 1 << 20) {
  LineSplitter splitter(max);
  Split out;
  splitter.feed(bytes, out.sink());
  splitter.finish(out.sink());
  return out.lines;
}

/// What a writer received, one entry per call.
struct Written {
  std::vector<std::string> lines;
  bool accept = true;
  Connection::Writer writer() {
    return [this](std::string_view line) {
      lines.emplace_back(line);
      return accept;
    };
  }
};

/// The JSON of one written line, after checking it is exactly one line.
json parse_line(const std::string& line) {
  EXPECT_FALSE(line.empty());
  EXPECT_EQ(line.find('\n'), line.size() - 1) << line;
  return json::parse(line, nullptr, false);
}

/// The lines, each followed by "\n".
std::string ndjson(std::initializer_list<std::string_view> lines) {
  std::string text;
  for (std::string_view line : lines) text.append(line).push_back('\n');
  return text;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// ---- LineSplitter -------------------------------------------------------------------------------

TEST(LineSplitter, KeepsPartialLinesAcrossFeeds) {
  LineSplitter splitter;
  Split out;
  splitter.feed("one\ntw", out.sink());
  EXPECT_THAT(out.lines, ElementsAre("one"));
  EXPECT_EQ(splitter.buffered(), 2u);
  splitter.feed("o\n\nthr", out.sink());
  splitter.feed("ee\n", out.sink());
  EXPECT_THAT(out.lines, ElementsAre("one", "two", "", "three"));
  EXPECT_EQ(splitter.buffered(), 0u);
}

TEST(LineSplitter, RemovesOnlyTheCarriageReturnBeforeTheNewline) {
  EXPECT_THAT(split_all("a\r\nb\rc\r\n\r\nd\r"), ElementsAre("a", "b\rc", "", "d"));
  // "\r" and "\n" in different feeds.
  LineSplitter splitter;
  Split out;
  splitter.feed("x\r", out.sink());
  splitter.feed("\ny", out.sink());
  EXPECT_THAT(out.lines, ElementsAre("x"));
}

TEST(LineSplitter, FinishYieldsTheFinalUnterminatedLineOnce) {
  LineSplitter splitter;
  Split out;
  splitter.feed("a\nlast", out.sink());
  splitter.finish(out.sink());
  splitter.finish(out.sink());
  EXPECT_THAT(out.lines, ElementsAre("a", "last"));
  EXPECT_THAT(split_all("a\n"), ElementsAre("a"));
  EXPECT_THAT(split_all(""), IsEmpty());
  EXPECT_THAT(split_all("\r"), IsEmpty());
}

TEST(LineSplitter, OverlongLineIsReportedOnceAndSkippedToTheNextNewline) {
  const std::string longline(100, 'x');
  EXPECT_THAT(split_all("ok\n" + longline + "\nnext\n", 10),
              ElementsAre("ok", "!xxxxxxxxxx", "next"));
  // Exactly the limit is fine; one byte more is not.
  EXPECT_THAT(split_all("0123456789\n0123456789a\nz", 10),
              ElementsAre("0123456789", "!0123456789", "z"));
  // An over-long final line without newline is reported, not decoded at finish.
  EXPECT_THAT(split_all("ok\n" + longline, 10), ElementsAre("ok", "!xxxxxxxxxx"));
}

TEST(LineSplitter, OverlongLineNeverBuffersBeyondTheLimit) {
  const std::string input = "ab\n" + std::string(1000, 'y') + "\ncd\n";
  LineSplitter splitter(16);
  Split out;
  for (char c : input) {
    splitter.feed(std::string_view(&c, 1), out.sink());
    ASSERT_LE(splitter.buffered(), 16u);
  }
  splitter.finish(out.sink());
  EXPECT_THAT(out.lines, ElementsAre("ab", "!" + std::string(16, 'y'), "cd"));
  EXPECT_EQ(out.lines, split_all(input, 16));
}

// ---- decode -------------------------------------------------------------------------------------

TEST(JsonrpcDecode, RequestWithIdZeroAndNoParams) {
  const Message m = decode(R"({"jsonrpc":"2.0","id":0,"method":"initialize"})");
  ASSERT_EQ(m.kind, Kind::request) << m.problem;
  EXPECT_EQ(m.id, json(0));
  EXPECT_TRUE(m.id.is_number_integer());
  EXPECT_EQ(m.method, "initialize");
  EXPECT_TRUE(m.params.is_null());
}

TEST(JsonrpcDecode, StringIdsAndParams) {
  const Message m =
      decode(R"({"params":[1,{"a":"é"}],"method":"fs/read","id":"r-1","jsonrpc":"2.0"})");
  ASSERT_EQ(m.kind, Kind::request) << m.problem;
  EXPECT_EQ(m.id, json("r-1"));
  EXPECT_EQ(m.params, json::parse(R"([1,{"a":"é"}])"));
}

TEST(JsonrpcDecode, NotificationHasNoId) {
  const Message m = decode(R"({"jsonrpc":"2.0","method":"session/update","params":{"x":1}})");
  ASSERT_EQ(m.kind, Kind::notification) << m.problem;
  EXPECT_TRUE(m.id.is_null());
  EXPECT_EQ(m.params, json({{"x", 1}}));
}

TEST(JsonrpcDecode, ResponsesWithResultOrError) {
  Message m = decode(R"({"result":{"ok":true},"id":7,"jsonrpc":"2.0"})");
  ASSERT_EQ(m.kind, Kind::response) << m.problem;
  EXPECT_EQ(m.id, json(7));
  EXPECT_EQ(m.result, json({{"ok", true}}));
  EXPECT_FALSE(m.error);

  m = decode(R"({"jsonrpc":"2.0","id":3,"result":null})");
  ASSERT_EQ(m.kind, Kind::response) << m.problem;
  EXPECT_TRUE(m.result.is_null());

  m = decode(R"({"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"auth","data":[1]}})");
  ASSERT_EQ(m.kind, Kind::response) << m.problem;
  ASSERT_TRUE(m.error);
  EXPECT_EQ(m.error->code, code::auth_required);
  EXPECT_EQ(m.error->message, "auth");
  EXPECT_EQ(m.error->data, json::array({1}));

  m = decode(R"({"jsonrpc":"2.0","id":1,"error":{"code":5,"message":"m"}})");
  ASSERT_TRUE(m.error);
  EXPECT_TRUE(m.error->data.is_null());
}

TEST(JsonrpcDecode, MalformedMessagesAreInvalidWithAReason) {
  const char* const lines[] = {
      "Starting agent...",
      "{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"params\":{\"t\":\"\xff\"}}",  // bad UTF-8
      R"([{"jsonrpc":"2.0","method":"x"}])",
      R"("text")",
      R"({"method":"x"})",
      R"({"jsonrpc":"1.0","method":"x"})",
      R"({"jsonrpc":2.0,"method":"x"})",
      R"({"jsonrpc":"2.0"})",
      R"({"jsonrpc":"2.0","method":7})",
      R"({"jsonrpc":"2.0","id":1.0,"method":"x"})",
      R"({"jsonrpc":"2.0","id":1.5,"result":1})",
      R"({"jsonrpc":"2.0","id":true,"method":"x"})",
      R"({"jsonrpc":"2.0","id":{},"method":"x"})",
      R"({"jsonrpc":"2.0","method":"x","params":3})",
      R"({"jsonrpc":"2.0","id":1,"result":1,"error":{"code":1,"message":"m"}})",
      R"({"jsonrpc":"2.0","id":1})",
      R"({"jsonrpc":"2.0","result":1})",
      R"({"jsonrpc":"2.0","id":null,"result":1})",
      R"({"jsonrpc":"2.0","id":1,"error":"boom"})",
      R"({"jsonrpc":"2.0","id":1,"error":{"code":1.5,"message":"m"}})",
      R"({"jsonrpc":"2.0","id":1,"error":{"code":1}})",
      R"({"jsonrpc":"2.0","id":1,"error":{"code":4294967296,"message":"m"}})",
      R"({"jsonrpc":"2.0","id":18446744073709551615,"result":1})",
  };
  for (const char* line : lines) {
    const Message m = decode(line);
    EXPECT_EQ(m.kind, Kind::invalid) << line;
    EXPECT_FALSE(m.problem.empty()) << line;
  }
  EXPECT_EQ(decode("{\"jsonrpc\":\"2.0\",\"id\":9223372036854775807,\"result\":1}").kind,
            Kind::response);
  EXPECT_EQ(decode(R"({"jsonrpc":"2.0","id":-5,"result":1})").id, json(-5));
}

TEST(JsonrpcDecode, InvalidLinesKeepWhatTheyLookedLikeAndAnEchoableId) {
  Message m = decode(R"({"id":4,"method":"x"})");
  EXPECT_EQ(m.kind, Kind::invalid);
  EXPECT_EQ(m.looks_like, Kind::request);
  EXPECT_EQ(m.id, json(4));
  EXPECT_THAT(m.problem, HasSubstr("jsonrpc"));

  m = decode(R"({"jsonrpc":"2.0","id":1.0,"method":"x"})");
  EXPECT_EQ(m.looks_like, Kind::request);
  EXPECT_TRUE(m.id.is_number_float());

  m = decode(R"({"jsonrpc":"2.0","id":null,"method":"x"})");
  EXPECT_EQ(m.looks_like, Kind::request);
  EXPECT_TRUE(m.id.is_null());

  m = decode(R"({"jsonrpc":"2.0","id":2})");
  EXPECT_EQ(m.looks_like, Kind::response);
  EXPECT_EQ(m.id, json(2));

  m = decode("[]");
  EXPECT_EQ(m.looks_like, Kind::invalid);
  EXPECT_THAT(m.problem, HasSubstr("object"));
  EXPECT_THAT(decode("banner").problem, HasSubstr("not JSON"));
}

// ---- Connection ---------------------------------------------------------------------------------

/// Two connections back to back in memory. What one writes is queued and fed to the other by
/// pump(), so a reply written inside a handler never recurses into the writer's caller.
class RpcConnection : public ::testing::Test {
 protected:
  void connect(Connection::Handlers for_a, Connection::Handlers for_b) {
    a = std::make_unique<Connection>(to(b), std::move(for_a));
    b = std::make_unique<Connection>(to(a), std::move(for_b));
  }
  Connection::Writer to(std::unique_ptr<Connection>& peer) {
    return [this, &peer](std::string_view line) {
      wire.emplace_back(&peer, std::string(line));
      return true;
    };
  }
  void pump() {
    while (!wire.empty()) {
      auto [peer, bytes] = std::move(wire.front());
      wire.pop_front();
      (*peer)->feed(bytes);
    }
  }

  std::unique_ptr<Connection> a;
  std::unique_ptr<Connection> b;
  std::deque<std::pair<std::unique_ptr<Connection>*, std::string>> wire;
};

/// Answers "add" with the sum of params.x and params.y; anything else is unknown.
Connection::Handlers adder(std::unique_ptr<Connection>& self) {
  Connection::Handlers h;
  h.on_request = [&self](const json& id, const std::string& method, json& params) {
    if (method != "add") return false;
    self->respond(id, params.at("x").get<int>() + params.at("y").get<int>());
    return true;
  };
  return h;
}

TEST_F(RpcConnection, RequestsAndResponsesBothWays) {
  connect(adder(a), adder(b));
  std::vector<std::string> got;
  const int64_t first = a->request("add", {{"x", 1}, {"y", 2}}, [&](json result, auto error) {
    EXPECT_FALSE(error);
    got.push_back("a<-" + result.dump());
  });
  const int64_t second = a->request("add", {{"x", 10}, {"y", 20}}, [&](json result, auto error) {
    EXPECT_FALSE(error);
    got.push_back("a<-" + result.dump());
  });
  b->request("add", {{"x", 5}, {"y", 5}},
             [&](json result, auto) { got.push_back("b<-" + result.dump()); });
  EXPECT_EQ(first, 0);
  EXPECT_EQ(second, 1);
  EXPECT_EQ(a->pending_count(), 2u);
  pump();
  EXPECT_THAT(got, ElementsAre("a<-3", "a<-30", "b<-10"));
  EXPECT_EQ(a->pending_count(), 0u);
  EXPECT_EQ(b->pending_count(), 0u);
}

TEST_F(RpcConnection, NotificationsAreDeliveredAndNeverAnswered) {
  std::vector<std::string> got;
  Connection::Handlers hb;
  hb.on_notification = [&](const std::string& method, json& params) {
    got.push_back(method + " " + params.dump());
  };
  hb.on_invalid = [&](std::string_view line, const std::string&) { ADD_FAILURE() << line; };
  connect({}, hb);
  EXPECT_TRUE(a->notify("session/update", {{"n", 1}}));
  EXPECT_TRUE(a->notify("session/cancel", nullptr));
  pump();
  EXPECT_THAT(got, ElementsAre(R"(session/update {"n":1})", "session/cancel null"));
  EXPECT_TRUE(wire.empty());
}

TEST_F(RpcConnection, UnknownMethodsAreAnsweredMethodNotFound) {
  connect({}, adder(b));
  std::vector<int> codes;
  const auto record = [&](json result, std::optional<RpcError> error) {
    EXPECT_TRUE(result.is_null());
    ASSERT_TRUE(error);
    EXPECT_THAT(error->message, HasSubstr("nope"));
    codes.push_back(error->code);
  };
  a->request("nope", nullptr, record);  // on_request returns false
  b->request("nope", nullptr, record);  // no on_request at all
  pump();
  EXPECT_THAT(codes, ElementsAre(code::method_not_found, code::method_not_found));
}

TEST_F(RpcConnection, ErrorResponsesReachTheHandler) {
  Connection::Handlers hb;
  hb.on_request = [this](const json& id, const std::string&, json&) {
    b->respond_error(id, RpcError{code::auth_required, "Authentication required",
                                  {{"authMethods", {"key"}}}});
    return true;
  };
  connect({}, hb);
  std::optional<RpcError> got;
  json got_result = "unset";
  a->request("session/new", {{"cwd", "/"}}, [&](json result, std::optional<RpcError> error) {
    got_result = std::move(result);
    got = std::move(error);
  });
  pump();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->code, code::auth_required);
  EXPECT_EQ(got->message, "Authentication required");
  EXPECT_EQ(got->data, json({{"authMethods", {"key"}}}));
  EXPECT_TRUE(got_result.is_null());
}

TEST_F(RpcConnection, AnswersArriveInAnyOrder) {
  std::vector<json> held;
  Connection::Handlers hb;
  hb.on_request = [&](const json& id, const std::string&, json&) {
    held.push_back(id);  // answered later
    return true;
  };
  connect({}, hb);
  std::vector<std::string> got;
  for (int i = 0; i < 3; ++i)
    a->request("work", nullptr, [&got, i](json result, auto) {
      got.push_back(std::to_string(i) + "=" + result.dump());
    });
  pump();
  ASSERT_EQ(held.size(), 3u);
  b->respond(held[2], "c");
  b->respond(held[0], "a");
  b->respond(held[1], "b");
  pump();
  EXPECT_THAT(got, ElementsAre(R"(2="c")", R"(0="a")", R"(1="b")"));
}

TEST(RpcConnectionAlone, PeerStringAndZeroIdsAreEchoedExactly) {
  Written out;
  Connection::Handlers h;
  std::vector<json> ids;
  h.on_request = [&](const json& id, const std::string&, json&) {
    ids.push_back(id);
    return true;
  };
  Connection c(out.writer(), h);
  c.feed(ndjson({R"({"jsonrpc":"2.0","id":"perm-1","method":"session/request_permission"})",
                 R"({"jsonrpc":"2.0","id":0,"method":"fs/read_text_file","params":{}})"}));
  ASSERT_THAT(ids, ElementsAre(json("perm-1"), json(0)));
  EXPECT_TRUE(c.respond(ids[0], {{"outcome", "selected"}}));
  EXPECT_TRUE(c.respond_error(ids[1], RpcError{code::resource_not_found, "no file", nullptr}));
  ASSERT_EQ(out.lines.size(), 2u);
  EXPECT_EQ(parse_line(out.lines[0]),
            json::parse(R"({"jsonrpc":"2.0","id":"perm-1","result":{"outcome":"selected"}})"));
  EXPECT_EQ(parse_line(out.lines[1]),
            json::parse(R"({"jsonrpc":"2.0","id":0,"error":{"code":-32002,"message":"no file"}})"));
}

TEST(RpcConnectionAlone, OurFirstRequestHasIdZeroAndItsAnswerMatches) {
  Written out;
  Connection c(out.writer(), {});
  json got;
  EXPECT_EQ(c.request("initialize", {{"protocolVersion", 1}}, [&](json r, auto) { got = r; }), 0);
  ASSERT_EQ(out.lines.size(), 1u);
  EXPECT_EQ(parse_line(out.lines[0]).at("id"), json(0));
  c.feed(ndjson({R"({"jsonrpc":"2.0","id":0,"result":{"protocolVersion":1}})"}));
  EXPECT_EQ(got, json({{"protocolVersion", 1}}));
  EXPECT_EQ(c.pending_count(), 0u);
}

TEST(RpcConnectionAlone, CloseFailsEveryPendingRequestWithTheReason) {
  Written out;
  Connection c(out.writer(), {});
  std::vector<std::string> got;
  for (int i = 0; i < 3; ++i)
    c.request("session/prompt", nullptr, [&got](json result, std::optional<RpcError> error) {
      got.push_back(error ? std::to_string(error->code) + " " + error->message
                          : "ok " + result.dump());
    });
  c.feed(ndjson({R"({"jsonrpc":"2.0","id":1,"result":{}})"}));
  EXPECT_THAT(got, ElementsAre("ok {}"));
  got.clear();
  c.close("agent exited with code 1");
  const std::string failed = "-32099 agent exited with code 1";
  EXPECT_THAT(got, ElementsAre(failed, failed));
  EXPECT_EQ(c.pending_count(), 0u);
  EXPECT_TRUE(c.closed());
  c.close("again");
  EXPECT_EQ(got.size(), 2u);
}

TEST(RpcConnectionAlone, NothingIsSentAfterClose) {
  Written out;
  Connection c(out.writer(), {});
  c.close("eof");
  std::optional<RpcError> got;
  bool called = false;
  const int64_t id = c.request("session/new", nullptr, [&](json, std::optional<RpcError> error) {
    called = true;
    got = error;
  });
  EXPECT_TRUE(called);  // before request() returned
  EXPECT_EQ(id, 0);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->code, code::connection_closed);
  EXPECT_EQ(got->message, "eof");
  EXPECT_FALSE(c.notify("session/cancel", nullptr));
  EXPECT_FALSE(c.respond(1, nullptr));
  EXPECT_FALSE(c.respond_error(1, RpcError{code::internal_error, "x", nullptr}));
  EXPECT_THAT(out.lines, IsEmpty());
  c.feed(ndjson({R"({"jsonrpc":"2.0","method":"late"})"}));  // ignored
  EXPECT_EQ(c.pending_count(), 0u);
}

TEST(RpcConnectionAlone, AFailedWriteFailsThatRequestAtOnce) {
  Written out;
  out.accept = false;
  Connection c(out.writer(), {});
  std::optional<RpcError> got;
  c.request("initialize", nullptr, [&](json, std::optional<RpcError> error) { got = error; });
  ASSERT_TRUE(got);
  EXPECT_EQ(got->code, code::connection_closed);
  EXPECT_EQ(c.pending_count(), 0u);
  EXPECT_FALSE(c.notify("n", nullptr));
  EXPECT_FALSE(c.closed());
  c.request("no/handler", nullptr, nullptr);  // an empty handler is allowed
}

TEST_F(RpcConnection, ResponseHandlerMaySendTheNextRequest) {
  connect({}, adder(b));
  std::vector<std::string> got;
  a->request("add", {{"x", 1}, {"y", 1}}, [&](json first, auto) {
    got.push_back(first.dump());
    a->request("add", {{"x", first.get<int>()}, {"y", 40}}, [&](json second, auto) {
      got.push_back(second.dump());
      a->notify("done", nullptr);
    });
  });
  pump();
  EXPECT_THAT(got, ElementsAre("2", "42"));
  EXPECT_EQ(a->pending_count(), 0u);
}

TEST(RpcConnectionAlone, CloseInsideANotificationStopsTheRestOfTheChunk) {
  Written out;
  std::vector<std::string> got;
  Connection* self = nullptr;
  Connection::Handlers h;
  h.on_notification = [&](const std::string& method, json&) {
    got.push_back(method);
    if (method == "stop") self->close("closed by handler");
  };
  h.on_invalid = [&](std::string_view line, const std::string&) { ADD_FAILURE() << line; };
  Connection c(out.writer(), h);
  self = &c;
  std::optional<RpcError> failed;
  c.request("session/prompt", nullptr, [&](json, std::optional<RpcError> error) {
    failed = error;
    // Inside close(): a new request fails at once instead of joining the map being emptied.
    bool inner = false;
    c.request("again", nullptr, [&](json, std::optional<RpcError> e) { inner = e.has_value(); });
    EXPECT_TRUE(inner);
  });
  c.feed(ndjson({R"({"jsonrpc":"2.0","method":"first"})", R"({"jsonrpc":"2.0","method":"stop"})",
                 R"({"jsonrpc":"2.0","method":"dropped"})"}) +
         R"({"jsonrpc":"2.0","method":"partial)");
  EXPECT_THAT(got, ElementsAre("first", "stop"));
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->message, "closed by handler");
  EXPECT_TRUE(c.closed());
  EXPECT_EQ(c.pending_count(), 0u);
  c.close("eof");  // nothing left to decode or fail
  EXPECT_THAT(got, ElementsAre("first", "stop"));
}

TEST(RpcConnectionAlone, FeedInsideAHandlerKeepsTheOrder) {
  Written out;
  std::vector<std::string> got;
  Connection* self = nullptr;
  Connection::Handlers h;
  h.on_notification = [&](const std::string& method, json&) {
    got.push_back(method);
    if (method == "one") self->feed(ndjson({R"({"jsonrpc":"2.0","method":"three"})"}));
  };
  Connection c(out.writer(), h);
  self = &c;
  c.feed(ndjson({R"({"jsonrpc":"2.0","method":"one"})", R"({"jsonrpc":"2.0","method":"two"})"}));
  EXPECT_THAT(got, ElementsAre("one", "two", "three"));
}

TEST(RpcConnectionAlone, RequestHandlerMayAnswerAtOnceAndRequestBack) {
  Written out;
  Connection* self = nullptr;
  Connection::Handlers h;
  h.on_request = [&](const json& id, const std::string&, json& params) {
    self->request("fs/read_text_file", params, nullptr);
    return self->respond(id, "done");
  };
  Connection c(out.writer(), h);
  self = &c;
  c.feed(ndjson({R"({"jsonrpc":"2.0","id":"x","method":"go","params":{"p":1}})"}));
  ASSERT_EQ(out.lines.size(), 2u);
  EXPECT_EQ(parse_line(out.lines[0]).at("method"), "fs/read_text_file");
  EXPECT_EQ(parse_line(out.lines[1]),
            json::parse(R"({"jsonrpc":"2.0","id":"x","result":"done"})"));
}

TEST(RpcConnectionAlone, UnknownResponseIdIsAWarning) {
  Written out;
  std::vector<std::string> problems;
  Connection::Handlers h;
  h.on_invalid = [&](std::string_view, const std::string& problem) { problems.push_back(problem); };
  Connection c(out.writer(), h);
  bool answered = false;
  c.request("m", nullptr, [&](json, auto) { answered = true; });
  c.feed(ndjson({R"({"jsonrpc":"2.0","id":5,"result":1})",
                 R"({"jsonrpc":"2.0","id":"0","result":1})"}));
  EXPECT_THAT(problems, ElementsAre(HasSubstr("unknown id 5"), HasSubstr(R"(unknown id "0")")));
  EXPECT_FALSE(answered);
  EXPECT_EQ(c.pending_count(), 1u);
  EXPECT_THAT(out.lines, ElementsAre(HasSubstr(R"("method":"m")")));
}

TEST(RpcConnectionAlone, AnAbandonedRequestsLateAnswerIsDroppedSilently) {
  Written out;
  std::vector<std::string> problems;
  Connection::Handlers h;
  h.on_invalid = [&](std::string_view, const std::string& problem) { problems.push_back(problem); };
  Connection c(out.writer(), h);
  int called = 0;
  const int64_t first = c.request("session/new", nullptr, [&](json, auto) { ++called; });
  const int64_t second = c.request("session/prompt", nullptr, [&](json, auto) { ++called; });
  EXPECT_THAT(c.pending_ids(), ElementsAre(first, second));
  EXPECT_TRUE(c.abandon(first));
  EXPECT_FALSE(c.abandon(first));  // no longer pending
  EXPECT_FALSE(c.abandon(99));
  EXPECT_THAT(c.pending_ids(), ElementsAre(second));
  // The late answer (an error, as a cancelled request gets), then a malformed one: no warning.
  c.feed(ndjson({R"({"jsonrpc":"2.0","id":0,"error":{"code":-32800,"message":"cancelled"}})"}));
  EXPECT_TRUE(problems.empty());
  EXPECT_EQ(called, 0);
  // Only once: a second answer to the same id is the peer's mistake again.
  c.feed(ndjson({R"({"jsonrpc":"2.0","id":0,"result":{}})"}));
  EXPECT_THAT(problems, ElementsAre(HasSubstr("unknown id 0")));
  // The other request is untouched; close() does not call the abandoned handler either.
  c.close("gone");
  EXPECT_EQ(called, 1);
}

TEST(RpcConnectionAlone, AMalformedLateAnswerToAnAbandonedRequestIsDroppedToo) {
  Written out;
  std::vector<std::string> problems;
  Connection::Handlers h;
  h.on_invalid = [&](std::string_view, const std::string& problem) { problems.push_back(problem); };
  Connection c(out.writer(), h);
  const int64_t id = c.request("initialize", nullptr, nullptr);
  ASSERT_TRUE(c.abandon(id));
  c.feed(ndjson({R"({"jsonrpc":"2.0","id":0,"result":1,"error":{"code":1,"message":"x"}})"}));
  EXPECT_TRUE(problems.empty());
}

TEST(RpcConnectionAlone, AbandonedIdsAreBounded) {
  Written out;
  std::vector<std::string> problems;
  Connection::Handlers h;
  h.on_invalid = [&](std::string_view, const std::string& problem) { problems.push_back(problem); };
  Connection c(out.writer(), h);
  for (size_t i = 0; i < Connection::kMaxAbandoned + 1; ++i)
    ASSERT_TRUE(c.abandon(c.request("m", nullptr, nullptr)));
  // The oldest was forgotten: its answer is a warning again; the newest is still dropped.
  c.feed(ndjson({R"({"jsonrpc":"2.0","id":0,"result":1})",
                 R"({"jsonrpc":"2.0","id":)" + std::to_string(Connection::kMaxAbandoned) +
                     R"(,"result":1})"}));
  EXPECT_THAT(problems, ElementsAre(HasSubstr("unknown id 0")));
}

TEST(RpcConnectionAlone, NonJsonLinesReachOnInvalidWithTheLine) {
  Written out;
  std::vector<std::string> invalid;
  std::vector<std::string> notified;
  Connection::Handlers h;
  h.on_invalid = [&](std::string_view line, const std::string& problem) {
    invalid.push_back(std::string(line) + " | " + problem);
  };
  h.on_notification = [&](const std::string& method, json&) { notified.push_back(method); };
  Connection c(out.writer(), h);
  c.feed(ndjson({"Welcome to agent v2!", "  ",
                 "{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"params\":{\"s\":\"\xc3\"}}"}));
  c.feed(ndjson({R"({"jsonrpc":"2.0","method":"ok"})"}));
  EXPECT_THAT(invalid, ElementsAre("Welcome to agent v2! | not JSON", HasSubstr("| not JSON")));
  EXPECT_THAT(notified, ElementsAre("ok"));
  EXPECT_THAT(out.lines, IsEmpty());
}

TEST(RpcConnectionAlone, InvalidRequestsWithAnEchoableIdAreAnswered) {
  Written out;
  int invalid = 0;
  Connection::Handlers h;
  h.on_invalid = [&](std::string_view, const std::string&) { ++invalid; };
  h.on_request = [](const json&, const std::string&, json&) -> bool {
    ADD_FAILURE() << "not a valid request";
    return true;
  };
  Connection c(out.writer(), h);
  c.feed(ndjson({R"({"jsonrpc":"2.0","id":1.0,"method":"m"})", R"({"id":"s","method":"m"})",
                 R"({"jsonrpc":"2.0","id":null,"method":"m"})",
                 R"({"jsonrpc":"2.0","id":[1],"method":"m"})"}));
  EXPECT_EQ(invalid, 4);
  ASSERT_EQ(out.lines.size(), 2u);
  const json first = parse_line(out.lines[0]);
  EXPECT_EQ(first.at("id"), json(1.0));
  EXPECT_EQ(first.at("error").at("code"), code::invalid_request);
  EXPECT_THAT(first.at("error").at("message").get<std::string>(), HasSubstr("integer"));
  EXPECT_EQ(parse_line(out.lines[1]).at("id"), json("s"));
}

TEST(RpcConnectionAlone, AnInvalidResponseStillSettlesItsRequest) {
  Written out;
  std::vector<std::string> problems;
  Connection::Handlers h;
  h.on_invalid = [&](std::string_view, const std::string& problem) { problems.push_back(problem); };
  Connection c(out.writer(), h);
  std::optional<RpcError> got;
  c.request("m", nullptr, [&](json, std::optional<RpcError> error) { got = error; });
  c.feed(ndjson({R"({"jsonrpc":"2.0","id":0,"result":1,"error":{"code":1,"message":"x"}})"}));
  ASSERT_TRUE(got);
  EXPECT_EQ(got->code, code::internal_error);
  EXPECT_THAT(got->message, HasSubstr("both result and error"));
  EXPECT_THAT(problems, ElementsAre(HasSubstr("both result and error")));
  EXPECT_EQ(c.pending_count(), 0u);
}

TEST(RpcConnectionAlone, AResponseNestedTooDeeplyIsRefusedAndStillSettlesItsRequest) {
  // An error whose data nests 10^5 / 10^6 levels once overflowed the stack when it was dumped.
  for (std::size_t depth : {std::size_t{100000}, std::size_t{1000000}}) {
    Written out;
    std::vector<std::string> problems;
    Connection::Handlers h;
    h.on_invalid = [&](std::string_view, const std::string& problem) { problems.push_back(problem); };
    Connection c(out.writer(), h, 64u << 20);
    std::optional<RpcError> got;
    c.request("m", nullptr, [&](json, std::optional<RpcError> error) { got = error; });
    c.feed(R"({"jsonrpc":"2.0","id":0,"error":{"code":-32603,"message":"x","data":)" +
           std::string(depth, '[') + std::string(depth, ']') + "}}\n");
    ASSERT_TRUE(got) << depth;
    EXPECT_EQ(got->code, code::internal_error);
    EXPECT_EQ(got->message, "invalid response: the message is nested deeper than 512 levels");
    EXPECT_THAT(problems, ElementsAre("the message is nested deeper than 512 levels"));
  }
  Message m = decode("[" + std::string(600, '{') + "]");
  EXPECT_EQ(m.kind, Kind::invalid);
  EXPECT_EQ(m.looks_like, Kind::invalid);
}

TEST(RpcConnectionAlone, CrlfLinesDecode) {
  Written out;
  std::vector<std::string> got;
  Connection::Handlers h;
  h.on_notification = [&](const std::string& method, json& params) {
    got.push_back(method + params.dump());
  };
  h.on_invalid = [&](std::string_view line, const std::string&) { ADD_FAILURE() << line; };
  Connection c(out.writer(), h);
  c.feed(R"({"jsonrpc":"2.0","method":"a"})"
         "\r\n"
         R"({"jsonrpc":"2.0","method":"b","params":["\r"]})"
         "\r");
  c.feed("\n\r\n");
  EXPECT_THAT(got, ElementsAre("anull", R"(b["\r"])"));
}

TEST(RpcConnectionAlone, OverlongLineIsSkippedAndTheNextLineDecoded) {
  Written out;
  std::vector<std::string> invalid;
  std::vector<std::string> got;
  Connection::Handlers h;
  h.on_invalid = [&](std::string_view line, const std::string& problem) {
    invalid.push_back(std::to_string(line.size()) + " " + problem);
  };
  h.on_notification = [&](const std::string& method, json&) { got.push_back(method); };
  Connection c(out.writer(), h, 64);
  const std::string big =
      R"({"jsonrpc":"2.0","method":"big","params":{"text":")" + std::string(500, 'z') + "\"}}";
  c.feed(big.substr(0, 100));
  c.feed(big.substr(100) + "\n" + R"({"jsonrpc":"2.0","method":"small"})");
  c.feed("\n");
  EXPECT_THAT(invalid, ElementsAre("64 line longer than 64 bytes; skipped"));
  EXPECT_THAT(got, ElementsAre("small"));
}

TEST(RpcConnectionAlone, FinalLineWithoutNewlineIsDecodedAtClose) {
  Written out;
  Connection c(out.writer(), {});
  json got;
  std::optional<RpcError> error;
  c.request("session/prompt", nullptr, [&](json result, std::optional<RpcError> e) {
    got = std::move(result);
    error = std::move(e);
  });
  c.feed(R"({"jsonrpc":"2.0","id":0,"result":{"stopReason":"end_)");
  c.feed(R"(turn"}})");
  EXPECT_EQ(c.pending_count(), 1u);
  c.close("eof");
  EXPECT_FALSE(error);
  EXPECT_EQ(got, json({{"stopReason", "end_turn"}}));
}

TEST(RpcConnectionAlone, WireFormatIsOneCompactLine) {
  Written out;
  Connection c(out.writer(), {});
  c.request("m", {{"text", "two\nlines"}, {"n", 1}}, nullptr);
  c.request("bare", nullptr, nullptr);
  c.notify("note", json::array({1, 2}));
  c.respond_error("r", RpcError{code::invalid_params, "bad", {{"field", "cwd"}}});
  ASSERT_EQ(out.lines.size(), 4u);
  EXPECT_EQ(parse_line(out.lines[0]), json::parse(R"({"jsonrpc":"2.0","id":0,"method":"m",
                                                      "params":{"text":"two\nlines","n":1}})"));
  EXPECT_EQ(parse_line(out.lines[1]), json::parse(R"({"jsonrpc":"2.0","id":1,"method":"bare"})"));
  EXPECT_EQ(parse_line(out.lines[2]),
            json::parse(R"({"jsonrpc":"2.0","method":"note","params":[1,2]})"));
  EXPECT_EQ(parse_line(out.lines[3]),
            json::parse(R"({"jsonrpc":"2.0","id":"r",
                            "error":{"code":-32602,"message":"bad","data":{"field":"cwd"}}})"));
  for (const std::string& line : out.lines) EXPECT_EQ(line.find(' '), std::string::npos) << line;
}

TEST(RpcConnectionAlone, InvalidUtf8WeSendIsReplacedNotThrown) {
  Written out;
  Connection c(out.writer(), {});
  EXPECT_TRUE(c.notify("session/update", {{"text", std::string("ok \xff\xfe end")}}));
  ASSERT_EQ(out.lines.size(), 1u);
  const json sent = parse_line(out.lines[0]);
  ASSERT_FALSE(sent.is_discarded());
  EXPECT_EQ(sent.at("params").at("text"), "ok \xEF\xBF\xBD\xEF\xBF\xBD end");
}

TEST_F(RpcConnection, OnMessageSeesBothDirectionsInOrder) {
  std::vector<std::string> seen;
  Connection::Handlers ha;
  ha.on_message = [&](bool outgoing, std::string_view line) {
    seen.push_back((outgoing ? "> " : "< ") + std::string(line));
  };
  connect(ha, adder(b));
  a->request("add", {{"x", 1}, {"y", 2}}, nullptr);
  pump();
  a->feed("banner\n");
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(json::parse(seen[0].substr(2)),
            json::parse(R"({"jsonrpc":"2.0","id":0,"method":"add","params":{"x":1,"y":2}})"));
  EXPECT_EQ(json::parse(seen[1].substr(2)), json::parse(R"({"jsonrpc":"2.0","id":0,"result":3})"));
  EXPECT_EQ(seen[0].substr(0, 2), "> ");
  EXPECT_EQ(seen[1].substr(0, 2), "< ");
  EXPECT_EQ(seen[2], "< banner");
}

// ---- fixtures/rpc: the same messages however the bytes are split --------------------------------

struct Counts {
  int requests = 0, notifications = 0, responses = 0, invalid = 0, writes = 0;
  bool operator==(const Counts&) const = default;
};

void PrintTo(const Counts& c, std::ostream* os) {
  *os << "{requests " << c.requests << ", notifications " << c.notifications << ", responses "
      << c.responses << ", invalid " << c.invalid << ", writes " << c.writes << "}";
}

/// Everything a connection reports while it reads `pieces` and then the end of the stream, as
/// the peer of an agent we sent four requests (ids 0-3) to.
std::vector<std::string> transcript(const std::vector<std::string_view>& pieces, Counts& counts) {
  std::vector<std::string> log;
  bool started = false;
  Connection::Handlers h;
  h.on_request = [&](const json& id, const std::string& method, json& params) {
    ++counts.requests;
    log.push_back("request " + id.dump() + " " + method + " " + params.dump());
    return true;
  };
  h.on_notification = [&](const std::string& method, json& params) {
    ++counts.notifications;
    log.push_back("notification " + method + " " + params.dump());
  };
  h.on_invalid = [&](std::string_view line, const std::string& problem) {
    ++counts.invalid;
    log.push_back("invalid (" + problem + ") " + std::string(line));
  };
  Connection c(
      [&](std::string_view line) {
        if (started) {
          ++counts.writes;
          log.push_back("write " + std::string(line));
        }
        return true;
      },
      h);
  for (int i = 0; i < 4; ++i)
    c.request("m", nullptr, [&counts, &log, i](json result, std::optional<RpcError> error) {
      ++counts.responses;
      log.push_back("response " + std::to_string(i) + " " + result.dump() +
                    (error ? " error " + std::to_string(error->code) + " " + error->message +
                                 " " + error->data.dump()
                           : ""));
    });
  started = true;
  for (std::string_view piece : pieces) c.feed(piece);
  c.close("eof");
  return log;
}

TEST(RpcFixtures, SameMessagesWholeSplitAndByteByByte) {
  // Responses count settled requests, including those failed by the end of the stream.
  const std::map<std::string, Counts> expected = {
      {"agent-session.ndjson", {.requests = 1, .notifications = 2, .responses = 4, .invalid = 1}},
      {"crlf-string-ids.ndjson",
       {.requests = 2, .notifications = 2, .responses = 4, .invalid = 1}},
      {"protocol-errors.ndjson",
       {.requests = 1, .notifications = 1, .responses = 4, .invalid = 16, .writes = 2}},
  };
  // Every transcript in the folder has its expected counts here.
  for (const auto& file : std::filesystem::directory_iterator(DROVER_FIXTURES_DIR "/rpc")) {
    if (file.path().extension() == ".ndjson") {
      EXPECT_TRUE(expected.count(file.path().filename().string())) << file.path();
    }
  }
  for (const auto& [name, want] : expected) {
    SCOPED_TRACE(name);
    const std::string bytes = read_file(std::string(DROVER_FIXTURES_DIR) + "/rpc/" + name);
    ASSERT_FALSE(bytes.empty());
    Counts counts;
    const std::vector<std::string> whole = transcript({bytes}, counts);
    EXPECT_EQ(counts, want);

    for (std::size_t at = 1; at < bytes.size(); ++at) {
      const std::string_view all(bytes);
      Counts ignored;
      ASSERT_EQ(transcript({all.substr(0, at), all.substr(at)}, ignored), whole)
          << "split at " << at;
    }
    std::vector<std::string_view> singles;
    for (std::size_t i = 0; i < bytes.size(); ++i)
      singles.push_back(std::string_view(bytes).substr(i, 1));
    Counts ignored;
    EXPECT_EQ(transcript(singles, ignored), whole);
  }
}

}  // namespace
}  // namespace drover::rpc
