//
// OutputQueue.cpp
//


#include "net/OutputQueue.h"
#include "net/PerThread.h"
#include <algorithm>


namespace Switchboard {
namespace Core {


namespace {
// A new chunk every 64 KiB: a long queue (a slow reader) then grows without copying megabytes on
// the loop thread each time one string doubles.
constexpr std::size_t MAX_CHUNK_BYTES = 64 * 1024;
// Written chunks are dropped from the front of the vector in bulk once they are this many and
// at least half of it, so compaction costs O(1) per chunk.
constexpr std::size_t COMPACT_AFTER = 32;
// A control buffer grown by a burst of pongs is freed once written; small ones are kept.
constexpr std::size_t RETAINED_CONTROL_BYTES = 4 * 1024;
// Each thread (an event loop) keeps a few buffers of written chunks for its next chunks, so that
// relaying messages does not allocate and free one: at most 256 KiB per thread, and none held by
// idle connections. A buffer that grew to hold a burst of SDP-sized frames (about 1 KB each) is
// kept too. New buffers start small: a broadcast to thousands of connections allocates one each.
constexpr std::size_t SPARE_BUFFERS = 16;
constexpr std::size_t SPARE_CAPACITY = 16 * 1024;
constexpr std::size_t SPARE_GRANULE = 512;
} // namespace


void OutputQueue::Buffer::grow(std::size_t needed)
{
	// Geometric, so a chunk taking many frames is not copied quadratically.
	const std::size_t capacity = std::max(needed, 2 * _capacity);
	std::unique_ptr<char[]> data(new char[capacity]);
	if (_size > 0)
		std::memcpy(data.get(), _data.get(), _size);
	_data = std::move(data);
	_capacity = capacity;
}


namespace {
struct SpareBuffers
{
	std::size_t count = 0;
	std::unique_ptr<char[]> data[SPARE_BUFFERS];
	std::size_t capacity[SPARE_BUFFERS] = {};
};
} // namespace


OutputQueue::Buffer OutputQueue::takeSpare(std::size_t atLeast)
{
	Buffer buffer;
	SpareBuffers& pool = perThread<SpareBuffers>();
	if (pool.count > 0 && pool.capacity[pool.count - 1] >= atLeast)
	{
		--pool.count;
		buffer._data = std::move(pool.data[pool.count]);
		buffer._capacity = pool.capacity[pool.count];
	}
	else
	{
		// Rounded up, so that a spare fits the next frames of about the same size.
		buffer.grow(atLeast <= SPARE_CAPACITY ? (atLeast + SPARE_GRANULE - 1) / SPARE_GRANULE * SPARE_GRANULE
		                                      : atLeast);
	}
	return buffer;
}


void OutputQueue::keepSpare(Buffer& buffer)
{
	SpareBuffers& pool = perThread<SpareBuffers>();
	if (buffer._capacity > 0 && buffer._capacity <= SPARE_CAPACITY && pool.count < SPARE_BUFFERS)
	{
		pool.data[pool.count] = std::move(buffer._data);
		pool.capacity[pool.count] = buffer._capacity;
		++pool.count;
	}
	else
		buffer._data.reset();
	buffer._size = 0;
	buffer._capacity = 0;
}


void OutputQueue::appendFrame(const char* header, std::size_t headerLength, const char* payload, std::size_t length,
                              bool ownChunk)
{
	bool reuseLast = !ownChunk && !_sealed && _chunks.size() > _head && !_chunks.back().shared &&
	                 _chunks.back().owned.size() < MAX_CHUNK_BYTES;
	if (!reuseLast)
	{
		_chunks.emplace_back();
		_chunks.back().owned = takeSpare(headerLength + length); // sized for this frame at least
	}
	_sealed = ownChunk;
	Buffer& target = _chunks.back().owned;
	target.append(header, headerLength);
	target.append(payload, length);
	_dataBytes += headerLength + length;
}


void OutputQueue::appendShared(std::shared_ptr<const std::string> frame)
{
	_dataBytes += frame->size();
	Chunk chunk;
	chunk.shared = std::move(frame);
	_chunks.push_back(std::move(chunk));
	_sealed = false;
}


void OutputQueue::appendControl(const char* header, std::size_t headerLength, const char* payload, std::size_t length)
{
	if (_controlOffset == _control.size())
	{
		_control.clear();
		_controlOffset = 0;
	}
	_control.append(header, headerLength);
	if (length > 0)
		_control.append(payload, length);
}


int OutputQueue::gather(iovec* iov, int maxCount) const
{
	int count = 0;
	auto add = [&](const char* data, std::size_t length) {
		if (length == 0 || count >= maxCount)
			return;
		iov[count].iov_base = const_cast<char*>(data);
		iov[count].iov_len = length;
		++count;
	};
	std::size_t next = _head;
	// A partly written chunk finishes first: control frames wait for its end.
	if (next < _chunks.size() && _chunks[next].offset > 0)
	{
		const Chunk& c = _chunks[next];
		add(c.data() + c.offset, c.size() - c.offset);
		++next;
	}
	add(_control.data() + _controlOffset, _control.size() - _controlOffset);
	for (; next < _chunks.size() && count < maxCount; ++next)
	{
		const Chunk& c = _chunks[next];
		add(c.data() + c.offset, c.size() - c.offset);
	}
	return count;
}


std::size_t OutputQueue::consumeHeadChunk(std::size_t written)
{
	Chunk& c = _chunks[_head];
	std::size_t take = std::min(written, c.size() - c.offset);
	c.offset += take;
	_dataBytes -= take;
	_writtenData += take;
	if (c.offset == c.size())
		popChunk();
	return take;
}


void OutputQueue::consume(std::size_t written)
{
	// Same order as gather(): a partly written chunk, the control frames, then whole chunks.
	if (written > 0 && _head < _chunks.size() && _chunks[_head].offset > 0)
		written -= consumeHeadChunk(written);
	if (written > 0)
	{
		std::size_t take = std::min(written, _control.size() - _controlOffset);
		_controlOffset += take;
		written -= take;
	}
	while (written > 0 && _head < _chunks.size())
		written -= consumeHeadChunk(written);
	if (_messageHead < _messageEnds.size())
		dropWrittenMessages();
	releaseIfEmpty();
}


void OutputQueue::dropWrittenMessages()
{
	while (_messageHead < _messageEnds.size() && _messageEnds[_messageHead] <= _writtenData)
		++_messageHead;
	if (_messageHead == _messageEnds.size())
	{
		_messageEnds.clear();
		_messageHead = 0;
	}
	else if (_messageHead >= COMPACT_AFTER && _messageHead * 2 >= _messageEnds.size())
	{
		_messageEnds.erase(_messageEnds.begin(), _messageEnds.begin() + static_cast<std::ptrdiff_t>(_messageHead));
		_messageHead = 0;
	}
}


void OutputQueue::popChunk()
{
	// Give the bytes back now (to this thread's spares when small); the slot itself goes with
	// the next compaction.
	Chunk& chunk = _chunks[_head];
	keepSpare(chunk.owned);
	chunk.shared.reset();
	chunk.offset = 0;
	++_head;
	if (_head >= COMPACT_AFTER && _head * 2 >= _chunks.size())
	{
		_chunks.erase(_chunks.begin(), _chunks.begin() + static_cast<std::ptrdiff_t>(_head));
		_head = 0;
	}
}


void OutputQueue::releaseIfEmpty()
{
	if (_controlOffset == _control.size())
	{
		if (_control.capacity() > RETAINED_CONTROL_BYTES)
			std::string().swap(_control);
		else
			_control.clear();
		_controlOffset = 0;
	}
	if (_head == _chunks.size())
	{
		if (_messageEnds.capacity() > 64)
			std::vector<std::uint64_t>().swap(_messageEnds); // marked messages are all written
		else
			_messageEnds.clear();
		_messageHead = 0;
		if (_chunks.capacity() > 16)
			std::vector<Chunk>().swap(_chunks); // give a burst's memory back; idle connections stay small
		else
			_chunks.clear();
		_head = 0;
		_sealed = false;
	}
}


void OutputQueue::discardUnstarted()
{
	std::size_t keep = _head;
	if (keep < _chunks.size() && _chunks[keep].offset > 0)
		++keep; // a partly written frame must be finished or the stream breaks
	for (std::size_t i = keep; i < _chunks.size(); ++i)
		_dataBytes -= _chunks[i].size() - _chunks[i].offset;
	_chunks.erase(_chunks.begin() + static_cast<std::ptrdiff_t>(keep), _chunks.end());
	// The messages that have not started are gone; a partly written one ends within what is kept.
	while (_messageEnds.size() > _messageHead && _messageEnds.back() > _writtenData + _dataBytes)
		_messageEnds.pop_back();
	if (_controlOffset == 0)
		_control.clear(); // else one is partly written: it and the whole ones behind it stay
	_sealed = false;
	releaseIfEmpty();
}


void OutputQueue::clear()
{
	std::vector<Chunk>().swap(_chunks);
	std::string().swap(_control);
	std::vector<std::uint64_t>().swap(_messageEnds);
	_messageHead = 0;
	_head = 0;
	_dataBytes = 0;
	_controlOffset = 0;
	_sealed = false;
}


} // namespace Core
} // namespace Switchboard
