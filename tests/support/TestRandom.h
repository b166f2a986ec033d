//
// TestRandom.h
//
// The deterministic generator of the fuzz tests: splitmix64, tiny and identical on every
// platform (unlike the std distributions), so a failing seed reproduces anywhere.
//


#ifndef Switchboard_Test_TestRandom_INCLUDED
#define Switchboard_Test_TestRandom_INCLUDED


#include <cstddef>
#include <cstdint>


namespace Switchboard {
namespace Test {


class TestRandom
{
public:
	explicit TestRandom(std::uint64_t seed):
	    _state(seed)
	{
	}

	std::uint64_t next()
	{
		std::uint64_t z = (_state += 0x9E3779B97F4A7C15ULL);
		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
		z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
		return z ^ (z >> 31);
	}

	std::size_t below(std::size_t n)
	/// Uniform enough in [0, n); n > 0.
	{
		return static_cast<std::size_t>(next() % n);
	}

	std::size_t between(std::size_t lo, std::size_t hi)
	/// In [lo, hi].
	{
		return lo + below(hi - lo + 1);
	}

	bool percent(unsigned p)
	/// True with probability p/100.
	{
		return below(100) < p;
	}

private:
	std::uint64_t _state;
};


} // namespace Test
} // namespace Switchboard


#endif // Switchboard_Test_TestRandom_INCLUDED
