//
// util/AddressRange.h
//
// Switchboard SDK utility (header-only, not part of the plugin ABI): IP addresses and CIDR
// ranges ("10.0.0.0/8", "fd00::/8", "192.0.2.7"), for lists such as trusted proxies. IPv4 is
// held as IPv4-mapped IPv6, so "::ffff:10.1.2.3" and "10.1.2.3" are the same address and an
// IPv4 range matches both spellings. Everything here is thread-safe and allocation-free except
// the text conversions.
//


#ifndef Switchboard_Util_AddressRange_INCLUDED
#define Switchboard_Util_AddressRange_INCLUDED


#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#ifdef _WIN32
#include <ws2tcpip.h>
#else
#include <arpa/inet.h>
#endif


namespace Switchboard {


struct IpAddress
/// 16 bytes, IPv4 as ::ffff:a.b.c.d.
{
	std::array<std::uint8_t, 16> bytes{};

	bool isV4() const noexcept
	{
		for (int i = 0; i < 10; ++i)
			if (bytes[static_cast<std::size_t>(i)] != 0)
				return false;
		return bytes[10] == 0xFF && bytes[11] == 0xFF;
	}

	static bool parse(std::string_view text, IpAddress& out)
	/// A literal address, optionally in brackets ("[::1]"); no port, no zone, no spaces.
	{
		if (text.size() >= 2 && text.front() == '[' && text.back() == ']')
			text = text.substr(1, text.size() - 2);
		if (text.empty() || text.size() > 45)
			return false;
		char buffer[46];
		text.copy(buffer, text.size());
		buffer[text.size()] = '\0';
		IpAddress address;
		if (text.find(':') == std::string_view::npos)
		{
			std::uint8_t v4[4];
			if (inet_pton(AF_INET, buffer, v4) != 1)
				return false;
			address.bytes[10] = 0xFF;
			address.bytes[11] = 0xFF;
			for (int i = 0; i < 4; ++i)
				address.bytes[static_cast<std::size_t>(12 + i)] = v4[i];
		}
		else if (inet_pton(AF_INET6, buffer, address.bytes.data()) != 1)
			return false;
		out = address;
		return true;
	}

	std::string text() const
	/// Canonical text: dotted IPv4 for mapped addresses, RFC 5952 IPv6 otherwise.
	{
		char buffer[INET6_ADDRSTRLEN];
		if (isV4())
			return inet_ntop(AF_INET, bytes.data() + 12, buffer, sizeof(buffer)) ? buffer : "";
		return inet_ntop(AF_INET6, bytes.data(), buffer, sizeof(buffer)) ? buffer : "";
	}

	IpAddress masked(int prefixBits) const noexcept
	/// The first prefixBits bits kept (0..128, on the 16-byte form), the rest cleared.
	{
		IpAddress out = *this;
		for (int bit = prefixBits < 0 ? 0 : prefixBits; bit < 128; ++bit)
			out.bytes[static_cast<std::size_t>(bit / 8)] &= static_cast<std::uint8_t>(~(0x80u >> (bit % 8)));
		return out;
	}

	bool operator==(const IpAddress& other) const noexcept { return bytes == other.bytes; }
};


struct AddressRange
/// A network: an address and a prefix length. A bare address is a /32 (IPv4) or /128 (IPv6).
{
	IpAddress network;
	int prefixBits = 128; ///< on the 16-byte form: an IPv4 /24 is stored as 120

	static bool parse(std::string_view text, AddressRange& out)
	/// "192.0.2.7", "10.0.0.0/8", "2001:db8::/32", "::1". Host bits set below the prefix are
	/// refused ("10.0.0.1/8" is most likely a typo for a single address or a different range).
	{
		std::size_t slash = text.find('/');
		AddressRange range;
		if (!IpAddress::parse(text.substr(0, slash), range.network))
			return false;
		int maxBits = range.network.isV4() ? 32 : 128;
		int bits = maxBits;
		if (slash != std::string_view::npos)
		{
			std::string_view digits = text.substr(slash + 1);
			if (digits.empty() || digits.size() > 3)
				return false;
			bits = 0;
			for (char c : digits)
			{
				if (c < '0' || c > '9')
					return false;
				bits = bits * 10 + (c - '0');
			}
			if (bits > maxBits)
				return false;
		}
		range.prefixBits = range.network.isV4() ? bits + 96 : bits;
		if (!(range.network.masked(range.prefixBits) == range.network))
			return false;
		out = range;
		return true;
	}

	bool contains(const IpAddress& address) const noexcept { return address.masked(prefixBits) == network; }
};


} // namespace Switchboard


#endif
