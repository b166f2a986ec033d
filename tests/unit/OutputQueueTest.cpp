//
// OutputQueueTest.cpp
//
// Unit tests of a connection's output queue: wire order of data, shared and control frames under
// partial writes, and the reuse of written chunks' buffers (no stale bytes, any frame size).
//


#include "net/OutputQueue.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <algorithm>
#include <memory>
#include <string>


using Switchboard::Core::OutputQueue;


namespace {


std::string frame(char tag, std::size_t length)
/// A fake frame: a 2-byte header "H<tag>" and length payload bytes.
{
	return std::string("H") + tag + std::string(length, tag);
}


void appendData(OutputQueue& queue, char tag, std::size_t length, bool ownChunk = false)
{
	const std::string payload(length, tag);
	const char header[2] = {'H', tag};
	queue.appendFrame(header, 2, payload.data(), payload.size(), ownChunk);
}


std::string drain(OutputQueue& queue, std::size_t step)
/// Writes everything, at most step bytes per write, as a socket taking little at a time would.
{
	std::string out;
	for (int guard = 0; !queue.empty() && guard < 1000000; ++guard)
	{
		iovec iov[8];
		const int count = queue.gather(iov, 8);
		std::size_t taken = 0;
		for (int i = 0; i < count && taken < step; ++i)
		{
			const std::size_t n = std::min(step - taken, iov[i].iov_len);
			out.append(static_cast<const char*>(iov[i].iov_base), n);
			taken += n;
		}
		queue.consume(taken);
	}
	return out;
}


} // namespace


class OutputQueueTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(OutputQueueTest);
	CPPUNIT_TEST(testOrderUnderPartialWrites);
	CPPUNIT_TEST(testControlAtFrameBoundary);
	CPPUNIT_TEST(testReusedBuffersHoldNoStaleBytes);
	CPPUNIT_TEST(testDiscardAndClear);
	CPPUNIT_TEST_SUITE_END();

public:
	void testOrderUnderPartialWrites()
	{
		for (std::size_t step : {1, 3, 7, 64, 1000, 1 << 20})
		{
			OutputQueue queue;
			std::string expected;
			for (int round = 0; round < 3; ++round)
			{
				appendData(queue, 'a', 10);
				appendData(queue, 'b', 0);
				queue.appendShared(std::make_shared<const std::string>(frame('s', 5)));
				appendData(queue, 'c', 70000); // beyond a chunk's size: starts another
				appendData(queue, 'd', 300, true);
				expected += frame('a', 10) + frame('b', 0) + frame('s', 5) + frame('c', 70000) + frame('d', 300);
			}
			CPPUNIT_ASSERT_EQUAL(expected.size(), queue.size());
			CPPUNIT_ASSERT(drain(queue, step) == expected);
			CPPUNIT_ASSERT(queue.empty());
			CPPUNIT_ASSERT_EQUAL(std::size_t(0), queue.chunkCount());
		}
	}

	void testControlAtFrameBoundary()
	{
		// A pong queued while a data frame is partly written follows that frame, then goes before
		// the frames not yet started.
		OutputQueue queue;
		appendData(queue, 'a', 100);
		iovec iov[4];
		queue.gather(iov, 4);
		queue.consume(10);
		const char header[2] = {'P', 'p'};
		queue.appendControl(header, 2, "pp", 2);
		appendData(queue, 'b', 20, true);
		appendData(queue, 'c', 5);
		CPPUNIT_ASSERT(drain(queue, 7) == frame('a', 100).substr(10) + "Pppp" + frame('b', 20) + frame('c', 5));
	}

	void testReusedBuffersHoldNoStaleBytes()
	{
		// Frames of every size up to past the kept buffers' limit, each written before the next is
		// queued, so written buffers come back: each write must hold exactly its own frame.
		OutputQueue queue;
		for (std::size_t length = 0; length < 6000; length += 37)
		{
			const char tag = static_cast<char>('a' + length % 26);
			appendData(queue, tag, length);
			CPPUNIT_ASSERT(drain(queue, 1 << 20) == frame(tag, length));
			// Two at once, the second appended to the first's buffer.
			appendData(queue, tag, length);
			appendData(queue, 'z', 3);
			CPPUNIT_ASSERT(drain(queue, 5000) == frame(tag, length) + frame('z', 3));
		}
		// Queues on one thread share the kept buffers.
		OutputQueue other;
		appendData(queue, 'q', 400);
		appendData(other, 'o', 100);
		CPPUNIT_ASSERT(drain(queue, 64) == frame('q', 400));
		appendData(other, 'p', 50);
		CPPUNIT_ASSERT(drain(other, 64) == frame('o', 100) + frame('p', 50));
	}

	void testDiscardAndClear()
	{
		OutputQueue queue;
		appendData(queue, 'a', 50);
		appendData(queue, 'b', 50, true);
		appendData(queue, 'c', 50);
		iovec iov[4];
		queue.gather(iov, 4);
		queue.consume(20);
		queue.discardUnstarted(); // the partly written frame stays whole
		CPPUNIT_ASSERT(drain(queue, 9) == frame('a', 50).substr(20));
		appendData(queue, 'd', 10);
		queue.clear();
		CPPUNIT_ASSERT(queue.empty());
		appendData(queue, 'e', 10);
		CPPUNIT_ASSERT(drain(queue, 3) == frame('e', 10));
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(OutputQueueTest);
