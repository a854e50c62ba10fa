// green::BaseServer (include/green/server.hpp): what StreamServer and
// DatagramServer share: start, stop, serve_forever, the pause on EMFILE.
#include <algorithm>
#include <green/server.hpp>

namespace green {
namespace {

constexpr std::chrono::milliseconds kFirstPause{10};
constexpr std::chrono::milliseconds kLongestPause{1000};

bool for_want_of_resources(int err) {
  return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM || err == EAGAIN;
}

}  // namespace

BaseServer::BaseServer(Address address, int type, const char* kind)
    : address_(std::move(address)), kind_(kind), type_(type) {}

BaseServer::~BaseServer() {
  end_all();
}

void BaseServer::end_all() noexcept {
  try {
    stop(Duration(std::chrono::seconds(0)));
    // A handler that stopped its own server may still run: it uses this object.
    std::vector<GreenletRef> left = handlers_.members();
    std::erase(left, current());
    killall(left);
  } catch (...) {  // no hub here: nothing can be waited for
  }
}

std::string BaseServer::name() const {
  return std::string(kind_) + " " + address_.str();
}

void BaseServer::set_max_accept(size_t n) {
  if (n == 0) throw std::invalid_argument(std::string(kind_) + "::set_max_accept: max_accept is 0");
  max_accept_ = n;
}

void BaseServer::set_stop_timeout(Duration timeout) {
  if (timeout.negative())
    throw std::invalid_argument(std::string(kind_) + "::set_stop_timeout: the timeout is negative");
  stop_timeout_ = timeout;
}

void BaseServer::open() {
  Socket s(address_.family(), type_);
  s.bind(address_);
  listener_ = std::move(s);
}

void BaseServer::start() {
  std::string what = std::string(kind_) + "::start";
  detail::self(what.c_str());
  if (state_ != State::kStopped) throw Error(what + ": " + name() + " is already started");
  open();
  address_ = listener_.local_address();
  loop_ended_.clear();
  stopped_.clear();
  delay_ = kFirstPause;
  burst_ = 0;
  state_ = State::kRunning;
  loop_ = green::spawn([this] { serve(); });
  loop_.link([this](GreenletRef) { loop_ended_.set(); });
}

void BaseServer::serve_forever() {
  std::string what = std::string(kind_) + "::serve_forever";
  detail::self(what.c_str());
  if (state_ == State::kStopped) start();
  loop_ended_.wait();
  stop(stop_timeout_);
}

void BaseServer::stop(Duration timeout) {
  std::string what = std::string(kind_) + "::stop";
  if (timeout.negative()) throw std::invalid_argument(what + ": the timeout is negative");
  detail::self(what.c_str());
  if (state_ == State::kStopped) return;
  if (state_ == State::kStopping) {  // another green thread is stopping it: wait for that
    stopped_.wait();
    return;
  }
  state_ = State::kStopping;
  GreenletRef self = current();
  if (loop_ && !(loop_ == self)) loop_.kill();
  listener_.close();
  // A handler may stop its own server: it does not wait for itself.
  std::vector<GreenletRef> others;
  for (GreenletRef& g : handlers_.members())
    if (!(g == self)) others.push_back(g);
  if (!joinall(others, timeout)) killall(others);
  state_ = State::kStopped;
  stopped_.set();
}

bool BaseServer::back_off(const std::system_error& e) {
  if (e.code().category() != std::system_category() || !for_want_of_resources(e.code().value()))
    return false;
  if (!pause_reported_) {
    pause_reported_ = true;
    detail::report(name() + ": " + e.what() + "; pausing (" + std::to_string(kFirstPause.count()) +
                   " ms, doubling up to " + std::to_string(kLongestPause.count()) +
                   " ms) and retrying while it lasts; not reported again");
  }
  green::sleep(delay_);
  delay_ = std::min(delay_ * 2, kLongestPause);
  return true;
}

void BaseServer::took_one() {
  delay_ = kFirstPause;
  if (++burst_ < max_accept_) return;
  burst_ = 0;
  green::yield();
}

void BaseServer::report_handler_error(const Address& peer) {
  try {
    throw;
  } catch (const std::system_error& e) {
    // A peer that went away is not the server's failure.
    int err = e.code().value();
    if (e.code().category() == std::system_category() && (err == ECONNRESET || err == EPIPE))
      return;
    detail::report(name() + ": the handler for " + peer.str() + " failed: " + e.what());
  } catch (const std::exception& e) {
    detail::report(name() + ": the handler for " + peer.str() + " failed: " + e.what());
  }
}

}  // namespace green
