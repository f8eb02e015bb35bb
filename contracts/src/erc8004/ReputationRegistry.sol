// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC721Owned, isOwnerOrOperator} from "./IERC721Owned.sol";

/// @title ReputationRegistry (ERC-8004 "Trustless Agents", Reputation Registry)
/// @notice Anyone but the agent's owner and its operators gives an agent feedback: a signed
///         fixed-point `value` with `valueDecimals` (0–18), optional tags, an endpoint and
///         a file URI with its keccak256. Feedback is numbered per (agent, client) from 1,
///         can be revoked by its client, and anyone can append responses to it.
///         Signatures, events and views are the standard's.
/// @dev    Values are bounded to |value| ≤ 1e38 (the standard leaves the range open) so that
///         sums cannot overflow; `getSummary` returns the mean at the finest precision among
///         the feedback it counts that fits an int128.
contract ReputationRegistry {
    struct Feedback {
        int128 value;
        uint8 valueDecimals;
        bool isRevoked;
        string tag1;
        string tag2;
    }

    /// @dev The arrays `readAllFeedback` returns, built in one place.
    struct FeedbackList {
        address[] clients;
        uint64[] feedbackIndexes;
        int128[] values;
        uint8[] valueDecimals;
        string[] tag1s;
        string[] tag2s;
        bool[] revokedStatuses;
    }

    int128 public constant MAX_ABS_VALUE = 1e38;
    uint8 public constant MAX_DECIMALS = 18;

    IERC721Owned private immutable _identityRegistry;

    mapping(uint256 agentId => mapping(address client => mapping(uint64 index => Feedback))) private _feedback;
    mapping(uint256 agentId => mapping(address client => uint64)) private _lastIndex;
    mapping(uint256 agentId => address[]) private _clients;
    mapping(uint256 agentId => mapping(address client => mapping(uint64 index => uint64))) private _responseTotal;
    mapping(uint256 agentId => mapping(address client => mapping(uint64 index => mapping(address responder => uint64))))
        private _responsesBy;

    event NewFeedback(
        uint256 indexed agentId,
        address indexed clientAddress,
        uint64 feedbackIndex,
        int128 value,
        uint8 valueDecimals,
        string indexed indexedTag1,
        string tag1,
        string tag2,
        string endpoint,
        string feedbackURI,
        bytes32 feedbackHash
    );
    event FeedbackRevoked(uint256 indexed agentId, address indexed clientAddress, uint64 indexed feedbackIndex);
    event ResponseAppended(
        uint256 indexed agentId,
        address indexed clientAddress,
        uint64 feedbackIndex,
        address indexed responder,
        string responseURI,
        bytes32 responseHash
    );

    error ZeroAddress();
    error DecimalsOutOfRange(uint8 valueDecimals);
    error ValueOutOfRange(int128 value);
    error SelfFeedback(uint256 agentId, address caller);
    error UnknownFeedback(uint256 agentId, address clientAddress, uint64 feedbackIndex);
    error AlreadyRevoked(uint256 agentId, address clientAddress, uint64 feedbackIndex);
    error ClientAddressesRequired();

    constructor(address identityRegistry_) {
        if (identityRegistry_ == address(0)) revert ZeroAddress();
        _identityRegistry = IERC721Owned(identityRegistry_);
    }

    function getIdentityRegistry() external view returns (address identityRegistry) {
        return address(_identityRegistry);
    }

    // ------------------------------------------------------------------ writes

    function giveFeedback(
        uint256 agentId,
        int128 value,
        uint8 valueDecimals,
        string calldata tag1,
        string calldata tag2,
        string calldata endpoint,
        string calldata feedbackURI,
        bytes32 feedbackHash
    ) external {
        if (valueDecimals > MAX_DECIMALS) revert DecimalsOutOfRange(valueDecimals);
        if (value > MAX_ABS_VALUE || value < -MAX_ABS_VALUE) revert ValueOutOfRange(value);
        // also reverts for an agent that does not exist
        if (isOwnerOrOperator(_identityRegistry, agentId, msg.sender)) revert SelfFeedback(agentId, msg.sender);

        uint64 index = _store(agentId, value, valueDecimals, tag1, tag2);
        _emitFeedback(agentId, index, value, valueDecimals, tag1, tag2, endpoint, feedbackURI, feedbackHash);
    }

    function _store(uint256 agentId, int128 value, uint8 valueDecimals, string calldata tag1, string calldata tag2)
        internal
        returns (uint64 index)
    {
        index = _lastIndex[agentId][msg.sender] + 1;
        _lastIndex[agentId][msg.sender] = index;
        if (index == 1) _clients[agentId].push(msg.sender);
        _feedback[agentId][msg.sender][index] = Feedback(value, valueDecimals, false, tag1, tag2);
    }

    /// @dev Its own frame: eleven event fields, five of them strings, do not fit the caller's stack.
    function _emitFeedback(
        uint256 agentId,
        uint64 index,
        int128 value,
        uint8 valueDecimals,
        string memory tag1,
        string memory tag2,
        string memory endpoint,
        string memory feedbackURI,
        bytes32 feedbackHash
    ) internal {
        emit NewFeedback(agentId, msg.sender, index, value, valueDecimals, tag1, tag1, tag2, endpoint, feedbackURI, feedbackHash);
    }

    function revokeFeedback(uint256 agentId, uint64 feedbackIndex) external {
        Feedback storage f = _existing(agentId, msg.sender, feedbackIndex);
        if (f.isRevoked) revert AlreadyRevoked(agentId, msg.sender, feedbackIndex);
        f.isRevoked = true;
        emit FeedbackRevoked(agentId, msg.sender, feedbackIndex);
    }

    function appendResponse(
        uint256 agentId,
        address clientAddress,
        uint64 feedbackIndex,
        string calldata responseURI,
        bytes32 responseHash
    ) external {
        _existing(agentId, clientAddress, feedbackIndex);
        ++_responseTotal[agentId][clientAddress][feedbackIndex];
        ++_responsesBy[agentId][clientAddress][feedbackIndex][msg.sender];
        emit ResponseAppended(agentId, clientAddress, feedbackIndex, msg.sender, responseURI, responseHash);
    }

    // ------------------------------------------------------------------ views

    /// @notice Count and mean of the unrevoked feedback of `clientAddresses` (required: an
    ///         unfiltered summary is open to Sybil feedback) with `tag1`/`tag2` (any when empty).
    function getSummary(uint256 agentId, address[] calldata clientAddresses, string calldata tag1, string calldata tag2)
        external
        view
        returns (uint64 count, int128 summaryValue, uint8 summaryValueDecimals)
    {
        if (clientAddresses.length == 0) revert ClientAddressesRequired();
        int256 sumWad;
        for (uint256 i; i < clientAddresses.length; ++i) {
            (int256 s, uint64 n, uint8 d) = _sumOf(agentId, clientAddresses[i], _tagFilter(tag1), _tagFilter(tag2));
            sumWad += s;
            count += n;
            if (d > summaryValueDecimals) summaryValueDecimals = d;
        }
        if (count == 0) return (0, 0, 0);
        int256 meanWad = sumWad / int256(uint256(count));
        // the finest precision any counted feedback used, coarser only where int128 needs it
        while (true) {
            int256 scaled = meanWad / int256(10 ** uint256(MAX_DECIMALS - summaryValueDecimals));
            if (scaled <= type(int128).max && scaled >= type(int128).min) return (count, int128(scaled), summaryValueDecimals);
            --summaryValueDecimals;
        }
    }

    function readFeedback(uint256 agentId, address clientAddress, uint64 feedbackIndex)
        external
        view
        returns (int128 value, uint8 valueDecimals, string memory tag1, string memory tag2, bool isRevoked)
    {
        Feedback storage f = _existing(agentId, clientAddress, feedbackIndex);
        return (f.value, f.valueDecimals, f.tag1, f.tag2, f.isRevoked);
    }

    /// @notice Every feedback of `clientAddresses` (every client when empty) with the tags
    ///         (any when empty), revoked ones only with `includeRevoked`.
    function readAllFeedback(
        uint256 agentId,
        address[] memory clientAddresses,
        string memory tag1,
        string memory tag2,
        bool includeRevoked
    )
        external
        view
        returns (
            address[] memory clients,
            uint64[] memory feedbackIndexes,
            int128[] memory values,
            uint8[] memory valueDecimals,
            string[] memory tag1s,
            string[] memory tag2s,
            bool[] memory revokedStatuses
        )
    {
        FeedbackList memory out = _readAll(agentId, clientAddresses, _tagFilter(tag1), _tagFilter(tag2), includeRevoked);
        return (out.clients, out.feedbackIndexes, out.values, out.valueDecimals, out.tag1s, out.tag2s, out.revokedStatuses);
    }

    /// @notice Responses appended: to one feedback, to all of one client's feedback
    ///         (`feedbackIndex` 0), or to all of the agent's (`clientAddress` zero); from
    ///         `responders` only, or from anyone when empty.
    function getResponseCount(uint256 agentId, address clientAddress, uint64 feedbackIndex, address[] calldata responders)
        external
        view
        returns (uint64 count)
    {
        if (clientAddress == address(0)) {
            address[] storage all = _clients[agentId];
            for (uint256 i; i < all.length; ++i) count += _clientResponses(agentId, all[i], 0, responders);
        } else {
            count = _clientResponses(agentId, clientAddress, feedbackIndex, responders);
        }
    }

    function getClients(uint256 agentId) external view returns (address[] memory) {
        return _clients[agentId];
    }

    function getLastIndex(uint256 agentId, address clientAddress) external view returns (uint64) {
        return _lastIndex[agentId][clientAddress];
    }

    // ------------------------------------------------------------------ internals

    function _existing(uint256 agentId, address client, uint64 index) internal view returns (Feedback storage) {
        if (index == 0 || index > _lastIndex[agentId][client]) revert UnknownFeedback(agentId, client, index);
        return _feedback[agentId][client][index];
    }

    /// @dev One client's unrevoked feedback with the tags: the sum at 18 decimals, how
    ///      many, and the finest precision among them.
    function _sumOf(uint256 agentId, address client, bytes32 tag1, bytes32 tag2)
        internal
        view
        returns (int256 sumWad, uint64 n, uint8 maxDecimals)
    {
        uint64 last = _lastIndex[agentId][client];
        for (uint64 j = 1; j <= last; ++j) {
            Feedback storage f = _feedback[agentId][client][j];
            if (f.isRevoked || !_tagsMatch(f, tag1, tag2)) continue;
            sumWad += int256(f.value) * int256(10 ** uint256(MAX_DECIMALS - f.valueDecimals));
            if (f.valueDecimals > maxDecimals) maxDecimals = f.valueDecimals;
            ++n;
        }
    }

    /// @dev A tag filter: zero matches any tag, else the keccak256 of the tag asked for.
    function _tagFilter(string memory tag) internal pure returns (bytes32) {
        return bytes(tag).length == 0 ? bytes32(0) : keccak256(bytes(tag));
    }

    function _tagsMatch(Feedback storage f, bytes32 tag1, bytes32 tag2) internal view returns (bool) {
        if (tag1 != bytes32(0) && keccak256(bytes(f.tag1)) != tag1) return false;
        if (tag2 != bytes32(0) && keccak256(bytes(f.tag2)) != tag2) return false;
        return true;
    }

    function _shown(Feedback storage f, bytes32 tag1, bytes32 tag2, bool includeRevoked) internal view returns (bool) {
        return (includeRevoked || !f.isRevoked) && _tagsMatch(f, tag1, tag2);
    }

    function _readAll(uint256 agentId, address[] memory list, bytes32 tag1, bytes32 tag2, bool includeRevoked)
        internal
        view
        returns (FeedbackList memory out)
    {
        if (list.length == 0) list = _clients[agentId];
        uint256 n;
        for (uint256 i; i < list.length; ++i) {
            uint64 last = _lastIndex[agentId][list[i]];
            for (uint64 j = 1; j <= last; ++j) {
                if (_shown(_feedback[agentId][list[i]][j], tag1, tag2, includeRevoked)) ++n;
            }
        }
        out = _allocate(n);
        n = 0;
        for (uint256 i; i < list.length; ++i) {
            uint64 last = _lastIndex[agentId][list[i]];
            for (uint64 j = 1; j <= last; ++j) {
                Feedback storage f = _feedback[agentId][list[i]][j];
                if (_shown(f, tag1, tag2, includeRevoked)) _put(out, n++, list[i], j, f);
            }
        }
    }

    function _allocate(uint256 n) internal pure returns (FeedbackList memory out) {
        out.clients = new address[](n);
        out.feedbackIndexes = new uint64[](n);
        out.values = new int128[](n);
        out.valueDecimals = new uint8[](n);
        out.tag1s = new string[](n);
        out.tag2s = new string[](n);
        out.revokedStatuses = new bool[](n);
    }

    function _put(FeedbackList memory out, uint256 k, address client, uint64 index, Feedback storage f) internal view {
        out.clients[k] = client;
        out.feedbackIndexes[k] = index;
        out.values[k] = f.value;
        out.valueDecimals[k] = f.valueDecimals;
        out.tag1s[k] = f.tag1;
        out.tag2s[k] = f.tag2;
        out.revokedStatuses[k] = f.isRevoked;
    }

    function _clientResponses(uint256 agentId, address client, uint64 feedbackIndex, address[] calldata responders)
        internal
        view
        returns (uint64 count)
    {
        uint64 from = feedbackIndex == 0 ? 1 : feedbackIndex;
        uint64 to = feedbackIndex == 0 ? _lastIndex[agentId][client] : feedbackIndex;
        for (uint64 j = from; j <= to; ++j) {
            if (responders.length == 0) {
                count += _responseTotal[agentId][client][j];
            } else {
                for (uint256 r; r < responders.length; ++r) count += _responsesBy[agentId][client][j][responders[r]];
            }
        }
    }
}
