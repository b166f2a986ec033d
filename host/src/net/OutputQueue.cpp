//
// OutputQueue.cpp
//


#include "net/OutputQueue.h"
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
} // namespace


void OutputQueue::appendFrame(const char* header, std::size_t headerLength, const char* payload, std::size_t length,
                              bool ownChunk)
{
	bool reuseLast = !ownChunk && !_sealed && _chunks.size() > _head && !_chunks.back().shared &&
	                 _chunks.back().owned.size() < MAX_CHUNK_BYTES;
	if (!reuseLast)
		_chunks.emplace_back();
	_sealed = ownChunk;
	std::string& target = _chunks.back().owned;
	target.append(header, headerLength);
	if (length > 0)
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
	releaseIfEmpty();
}


void OutputQueue::popChunk()
{
	// Free the bytes now; the slot itself goes with the next compaction.
	_chunks[_head] = Chunk();
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
	if (_controlOffset == 0)
		_control.clear(); // else one is partly written: it and the whole ones behind it stay
	_sealed = false;
	releaseIfEmpty();
}


void OutputQueue::clear()
{
	std::vector<Chunk>().swap(_chunks);
	std::string().swap(_control);
	_head = 0;
	_dataBytes = 0;
	_controlOffset = 0;
	_sealed = false;
}


} // namespace Core
} // namespace Switchboard
