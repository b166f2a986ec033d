//
// LoadGeneratorMain.cpp
//
// bench-loadgen: command line of one load-generator process (bench/run starts several).
//


#include "GeneratorOptions.h"
#include "LoadGenerator.h"
#include <arpa/inet.h>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>


using Switchboard::Bench::GeneratorOptions;
using Switchboard::Bench::LoadGenerator;
using Switchboard::Bench::Protocol;
using Switchboard::Bench::Workload;


namespace {


const char USAGE[] =
    "usage: bench-loadgen --target ADDR:PORT --workload hold|closed|open|pingpong|join [options]\n"
    "\n"
    "One process of the PeerJS (or GoVPN) load generator. Prints {\"event\":\"ready\",...} when connected, waits\n"
    "for a line \"go\" on stdin (or starts at once with --auto), runs the workload and prints\n"
    "{\"event\":\"result\",...}. \"stop\" or end of input ends a hold or cuts a run short.\n"
    "\n"
    "  --source ADDR            local address to bind (127.0.0.2, 127.0.0.3, ...)\n"
    "  --peer-port PORT         peerjs closed, open, pingpong: the second peer of every pair connects to\n"
    "                           this port of the --target address, the first to --target's port (two\n"
    "                           clustered servers: every relayed message crosses between them)\n"
    "  --path P                 WebSocket path (default /peerjs)\n"
    "  --key K                  PeerJS key (default peerjs)\n"
    "  --tag T                  id prefix, unique per run (default bench)\n"
    "  --protocol P             peerjs (default) or govpn: GoVPN clients in rooms (path default /ws);\n"
    "                           each room's first member creates it, the others join with its password;\n"
    "                           relay messages are Offer, Answer and 4 Candidates in turn, each to the\n"
    "                           next other member of the room\n"
    "  --message-bytes N        peerjs: pad each CANDIDATE to N bytes with a \"pad\" string in its\n"
    "                           payload (to compare protocols at one message size)\n"
    "  --room-size N            govpn: members per room (default 2; closed and open need 2 * pairs to be\n"
    "                           a multiple of it); peerjs closed and open: groups of N (3..100) instead of\n"
    "                           pairs, each member sending to the next other member of its group in turn\n"
    "  --password DDDD          govpn: the rooms' password (default 4821)\n"
    "  --connections N          hold, join: connections\n"
    "  --pairs N                closed, open: peer pairs\n"
    "  --window W               closed: messages in flight per pair (default 16)\n"
    "  --rate R                 open: messages/s sent by this process in total\n"
    "  --victim-rate R          open: add a pair whose sender sends R messages/s\n"
    "  --victim-stop            open: that pair's receiver stops reading at go\n"
    "  --interval-us U          pingpong: at most one round trip every U microseconds (default 1000)\n"
    "  join (govpn only)        owners create their rooms while connecting; at go every other member\n"
    "                           sends JoinRoom at once; the result comes when all are answered (or at\n"
    "                           --measure-ms) with the join latencies as its histogram\n"
    "  --warmup-ms, --measure-ms, --drain-ms   timing (defaults 1000, 5000, 1000); measure-ms is\n"
    "                           the longest hold for hold\n"
    "  --heartbeat-ms MS        HEARTBEAT period per connection, 0 = none (default 5000)\n"
    "  --connect-concurrency N  handshakes in progress at once (default 64)\n"
    "  --connect-timeout-ms MS  (default 60000)    --go-timeout-ms MS (default 600000)\n"
    "  --auto                   start right after connecting\n"
    "  --tls                    wss://: every connection does a TLS handshake (TLS 1.2 or later, ALPN\n"
    "                           http/1.1, no session resumption) before its upgrade; the server's\n"
    "                           certificate is NOT verified unless --tls-ca is given (verification is\n"
    "                           not what the benchmark measures)\n"
    "  --tls-ca FILE            with --tls: verify the server's certificate against these PEM\n"
    "                           certificates and its IP address (--target) against the certificate\n";


bool parseInt(const char* text, long long low, long long high, long long& value)
{
	char* end = nullptr;
	errno = 0;
	const long long v = std::strtoll(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || v < low || v > high)
		return false;
	value = v;
	return true;
}


bool parseDouble(const char* text, double low, double high, double& value)
{
	char* end = nullptr;
	errno = 0;
	const double v = std::strtod(text, &end);
	if (errno != 0 || end == text || *end != '\0' || !(v >= low && v <= high))
		return false;
	value = v;
	return true;
}


bool validAddress(const std::string& text)
{
	in_addr a;
	return inet_pton(AF_INET, text.c_str(), &a) == 1;
}


int fail(const std::string& message)
{
	std::fprintf(stderr, "bench-loadgen: %s\n%s", message.c_str(), USAGE);
	return 2;
}


} // namespace


int main(int argc, char** argv)
{
	GeneratorOptions o;
	bool haveWorkload = false;
	bool havePath = false;
	for (int i = 1; i < argc; ++i)
	{
		std::string arg = argv[i];
		std::string value;
		const std::size_t eq = arg.find('=');
		if (arg.rfind("--", 0) == 0 && eq != std::string::npos)
		{
			value = arg.substr(eq + 1);
			arg = arg.substr(0, eq);
		}
		if (arg == "--help" || arg == "-h")
		{
			std::fputs(USAGE, stdout);
			return 0;
		}
		if (arg == "--auto")
		{
			o.autoGo = true;
			continue;
		}
		if (arg == "--victim-stop")
		{
			o.victimStop = true;
			continue;
		}
		if (arg == "--tls")
		{
			o.tls = true;
			continue;
		}
		if (eq == std::string::npos)
		{
			if (i + 1 >= argc)
				return fail("missing value for " + arg);
			value = argv[++i];
		}
		long long n = 0;
		const char* v = value.c_str();
		if (arg == "--target")
		{
			const std::size_t colon = value.rfind(':');
			if (colon == std::string::npos || !validAddress(value.substr(0, colon)) ||
			    !parseInt(value.c_str() + colon + 1, 1, 65535, n))
				return fail("--target must be IPV4:PORT, got '" + value + "'");
			o.targetAddress = value.substr(0, colon);
			o.targetPort = static_cast<int>(n);
		}
		else if (arg == "--peer-port")
		{
			if (!parseInt(v, 1, 65535, n))
				return fail("--peer-port must be 1..65535, got '" + value + "'");
			o.peerPort = static_cast<int>(n);
		}
		else if (arg == "--source")
		{
			if (!validAddress(value))
				return fail("--source must be an IPv4 address, got '" + value + "'");
			o.sourceAddress = value;
		}
		else if (arg == "--path")
		{
			if (value.empty() || value[0] != '/' || value.find_first_of(" ?#\r\n") != std::string::npos)
				return fail("--path must start with '/' and contain no spaces, '?' or '#'");
			o.path = value;
			havePath = true;
		}
		else if (arg == "--key" || arg == "--tag")
		{
			if (value.empty() ||
			    value.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
			        std::string::npos)
				return fail(arg + " must be non-empty letters, digits, '_', '.' or '-'");
			(arg == "--key" ? o.key : o.tag) = value;
		}
		else if (arg == "--tls-ca")
		{
			if (value.empty())
				return fail("--tls-ca needs a file");
			o.tlsCaFile = value;
		}
		else if (arg == "--workload")
		{
			haveWorkload = true;
			if (value == "hold")
				o.workload = Workload::HOLD;
			else if (value == "closed")
				o.workload = Workload::CLOSED;
			else if (value == "open")
				o.workload = Workload::OPEN;
			else if (value == "pingpong")
				o.workload = Workload::PINGPONG;
			else if (value == "join")
				o.workload = Workload::JOIN;
			else
				return fail("unknown workload '" + value + "'");
		}
		else if (arg == "--protocol")
		{
			if (value == "peerjs")
				o.protocol = Protocol::PEERJS;
			else if (value == "govpn")
				o.protocol = Protocol::GOVPN;
			else
				return fail("--protocol must be peerjs or govpn");
		}
		else if (arg == "--room-size" && parseInt(v, 2, 100000, n))
			o.roomSize = static_cast<int>(n);
		else if (arg == "--message-bytes" && parseInt(v, 0, 60000, n))
			o.messageBytes = static_cast<std::size_t>(n);
		else if (arg == "--password")
		{
			if (value.size() != 4 || value.find_first_not_of("0123456789") != std::string::npos)
				return fail("--password must be four digits");
			o.roomPassword = value;
		}
		else if (arg == "--connections" && parseInt(v, 1, 19000, n))
			o.connections = static_cast<int>(n);
		else if (arg == "--pairs" && parseInt(v, 1, 9000, n))
			o.pairs = static_cast<int>(n);
		else if (arg == "--window" && parseInt(v, 1, 100000, n))
			o.window = static_cast<int>(n);
		else if (arg == "--rate" && parseDouble(v, 0, 1e8, o.rate))
			continue;
		else if (arg == "--victim-rate" && parseDouble(v, 0, 1e8, o.victimRate))
			continue;
		else if (arg == "--interval-us" && parseInt(v, 0, 10000000, n))
			o.intervalUs = n;
		else if (arg == "--warmup-ms" && parseInt(v, 0, 3600000, n))
			o.warmupMs = n;
		else if (arg == "--measure-ms" && parseInt(v, 1, 3600000, n))
			o.measureMs = n;
		else if (arg == "--drain-ms" && parseInt(v, 0, 600000, n))
			o.drainMs = n;
		else if (arg == "--heartbeat-ms" && parseInt(v, 0, 3600000, n))
			o.heartbeatMs = n;
		else if (arg == "--connect-concurrency" && parseInt(v, 1, 19000, n))
			o.connectConcurrency = static_cast<int>(n);
		else if (arg == "--connect-timeout-ms" && parseInt(v, 1, 3600000, n))
			o.connectTimeoutMs = n;
		else if (arg == "--go-timeout-ms" && parseInt(v, 1, 3600000, n))
			o.goTimeoutMs = n;
		else
			return fail("unknown option or bad value: " + arg + " " + value);
	}
	if (o.targetPort == 0)
		return fail("--target is required");
	if (!haveWorkload)
		return fail("--workload is required");
	if ((o.workload == Workload::HOLD || o.workload == Workload::JOIN) && o.connections == 0)
		return fail("hold and join need --connections");
	if (o.protocol == Protocol::GOVPN)
	{
		if (!havePath)
			o.path = "/ws";
		if (o.workload == Workload::PINGPONG || o.victimRate > 0)
			return fail("govpn has no pingpong and no victim pair");
		if ((o.workload == Workload::CLOSED || o.workload == Workload::OPEN) && (2 * o.pairs) % o.roomSize != 0)
			return fail("govpn: 2 * --pairs must be a multiple of --room-size");
	}
	else if (o.workload == Workload::JOIN)
		return fail("join needs --protocol govpn");
	else if (o.roomSize > 2 && (o.workload == Workload::CLOSED || o.workload == Workload::OPEN))
	{
		if (o.roomSize > 100 || (2 * o.pairs) % o.roomSize != 0 || o.victimRate > 0 || o.peerPort > 0)
			return fail("peerjs groups: --room-size 3..100 dividing 2 * --pairs, no victim pair, no --peer-port");
	}
	if ((o.workload == Workload::CLOSED || o.workload == Workload::OPEN) && o.pairs == 0)
		return fail("closed and open need --pairs");
	if (o.workload == Workload::OPEN && o.rate <= 0 && o.victimRate <= 0)
		return fail("open needs --rate (or --victim-rate)");
	if (o.peerPort > 0 && (o.protocol != Protocol::PEERJS || o.workload == Workload::HOLD))
		return fail("--peer-port needs peerjs pairs (closed, open or pingpong)");
	if (!o.tlsCaFile.empty() && !o.tls)
		return fail("--tls-ca needs --tls");
	LoadGenerator generator(o);
	return generator.run();
}
