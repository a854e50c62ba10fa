// green::DatagramServer (include/green/server.hpp): a greenlet receives,
// each datagram is handled on a greenlet of its own.
#include <green/server.hpp>
#include <vector>

namespace green {

DatagramServer::DatagramServer(Address address, Handler handler)
    : BaseServer(std::move(address), SOCK_DGRAM, "green::DatagramServer"),
      handler_(std::move(handler)) {
  if (!handler_) throw std::invalid_argument("green::DatagramServer: the handler is empty");
}

DatagramServer::~DatagramServer() {
  end_all();  // before handler_ goes
}

void DatagramServer::serve() {
  std::vector<char> buf(65536);  // the largest UDP payload fits
  for (;;) {
    Address peer;
    try {
      size_t n = listener_.recvfrom(buf.data(), buf.size(), &peer);
      handlers_.spawn([this](std::string data, Address p) { handle(data, p); },
                      std::string(buf.data(), n), peer);
    } catch (const std::system_error& e) {
      // An ICMP error for an earlier sendto: not this socket's failure.
      if (e.code().value() == ECONNREFUSED) continue;
      if (back_off(e)) continue;
      detail::report(name() + ": stops receiving: " + e.what());
      return;
    }
    took_one();
  }
}

void DatagramServer::handle(std::string_view data, const Address& peer) {
  try {
    handler_(data, peer);
  } catch (const GreenletExit&) {
    throw;
  } catch (const std::exception&) {
    report_handler_error(peer);
  }
}

}  // namespace green
