// green::StreamServer (include/green/server.hpp): a greenlet accepts, each
// connection gets a greenlet of its own.
#include <green/server.hpp>

namespace green {

StreamServer::StreamServer(Address address, Handler handler)
    : BaseServer(std::move(address), SOCK_STREAM, "green::StreamServer"),
      handler_(std::move(handler)) {
  if (!handler_) throw std::invalid_argument("green::StreamServer: the handler is empty");
}

StreamServer::~StreamServer() {
  end_all();  // before handler_ goes
}

void StreamServer::open() {
  Socket s(address_.family(), SOCK_STREAM);
  s.set_option(SOL_SOCKET, SO_REUSEADDR, 1);
  s.bind(address_);
  s.listen(backlog_);
  listener_ = std::move(s);
}

void StreamServer::serve() {
  for (;;) {
    Address peer;
    try {
      Socket conn = listener_.accept(&peer);
      handlers_.spawn([this](Socket c, Address p) { handle(c, p); }, std::move(conn), peer);
    } catch (const std::system_error& e) {
      int err = e.code().value();
      // Errors of one connection that did not make it (accept(2), Linux).
      if (err == ECONNABORTED || err == EPROTO || err == EPERM || err == ENETDOWN ||
          err == EHOSTUNREACH || err == ENETUNREACH || err == EHOSTDOWN || err == ENONET)
        continue;
      if (back_off(e)) continue;
      detail::report(name() + ": stops accepting: " + e.what());
      return;
    }
    took_one();
  }
}

void StreamServer::handle(Socket& connection, const Address& peer) {
  try {
    handler_(connection, peer);
  } catch (const GreenletExit&) {
    throw;  // a kill (stop) ends it quietly
  } catch (const std::exception&) {
    report_handler_error(peer);
  }
}

}  // namespace green
