//
// RawRelayMain.cpp
//
// bench-rawrelay: command line of the raw relay (the benchmark's reference for the machine).
//


#include "RawRelay.h"
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>


namespace {


void onSignal(int)
{
	Switchboard::Bench::RawRelay::requestStop();
}


} // namespace


int main(int argc, char** argv)
{
	std::string address = "127.0.0.1";
	long port = 0;
	for (int i = 1; i < argc; ++i)
	{
		const std::string arg = argv[i];
		if (arg == "--help" || arg == "-h")
		{
			std::puts("usage: bench-rawrelay --port PORT [--address 127.0.0.1]\n"
			          "Relays WebSocket frames between connections whose PeerJS ids differ only in a final\n"
			          "'a'/'b'. Stops on SIGTERM or SIGINT.");
			return 0;
		}
		if (i + 1 >= argc)
		{
			std::fprintf(stderr, "bench-rawrelay: missing value for %s\n", arg.c_str());
			return 2;
		}
		const char* value = argv[++i];
		if (arg == "--address")
			address = value;
		else if (arg == "--port")
		{
			char* end = nullptr;
			errno = 0;
			port = std::strtol(value, &end, 10);
			if (errno != 0 || *end != '\0' || port < 1 || port > 65535)
			{
				std::fprintf(stderr, "bench-rawrelay: --port must be 1..65535, got '%s'\n", value);
				return 2;
			}
		}
		else
		{
			std::fprintf(stderr, "bench-rawrelay: unknown option %s\n", arg.c_str());
			return 2;
		}
	}
	if (port == 0)
	{
		std::fprintf(stderr, "bench-rawrelay: --port is required\n");
		return 2;
	}
	struct sigaction sa;
	std::memset(&sa, 0, sizeof(sa));
	sa.sa_handler = onSignal;
	sigaction(SIGTERM, &sa, nullptr);
	sigaction(SIGINT, &sa, nullptr);
	std::signal(SIGPIPE, SIG_IGN);
	Switchboard::Bench::RawRelay relay(address, static_cast<int>(port));
	return relay.run();
}
