// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC721Owned, isOwnerOrOperator} from "./IERC721Owned.sol";

/// @title ValidationRegistry (ERC-8004 "Trustless Agents", Validation Registry)
/// @notice An agent's owner (or an operator approved for it) asks a validator to check a
///         piece of the agent's work (`validationRequest`); the validator answers with a
///         score from 0 to 100 (`validationResponse`), as often as it likes (soft, then
///         final: the `tag` says which). Signatures, events and views are the standard's.
///
///         The standard leaves incentives and slashing to "the specific validation
///         protocol". Covenant's verifiers answer requests that name a Covenant action
///         (`covenant:action/<actionId>?validator=<address>`) from their own checks of the
///         committed trace, and from DisputeGame's outcome: a slash is a final 0 whose
///         `responseURI` names the dispute (src/verify/validationResponder.ts).
contract ValidationRegistry {
    struct Validation {
        address validatorAddress;
        uint8 response;
        bool hasResponse;
        uint64 lastUpdate;
        uint256 agentId;
        bytes32 responseHash;
        string tag;
    }

    IERC721Owned private immutable _identityRegistry;

    mapping(bytes32 requestHash => Validation) private _validations;
    mapping(uint256 agentId => bytes32[]) private _agentValidations;
    mapping(address validator => bytes32[]) private _validatorRequests;

    event ValidationRequest(
        address indexed validatorAddress, uint256 indexed agentId, string requestURI, bytes32 indexed requestHash
    );
    event ValidationResponse(
        address indexed validatorAddress,
        uint256 indexed agentId,
        bytes32 indexed requestHash,
        uint8 response,
        string responseURI,
        bytes32 responseHash,
        string tag
    );

    error ZeroAddress();
    error ZeroRequestHash();
    error RequestExists(bytes32 requestHash);
    error UnknownRequest(bytes32 requestHash);
    error NotAgentOwnerOrOperator(uint256 agentId, address caller);
    error NotValidator(bytes32 requestHash, address caller, address validator);
    error ResponseOutOfRange(uint8 response);

    constructor(address identityRegistry_) {
        if (identityRegistry_ == address(0)) revert ZeroAddress();
        _identityRegistry = IERC721Owned(identityRegistry_);
    }

    function getIdentityRegistry() external view returns (address identityRegistry) {
        return address(_identityRegistry);
    }

    /// @notice Ask `validatorAddress` to validate what `requestURI` names; `requestHash` (the
    ///         keccak256 of the request payload) identifies the request and is used once.
    function validationRequest(address validatorAddress, uint256 agentId, string calldata requestURI, bytes32 requestHash)
        external
    {
        if (validatorAddress == address(0)) revert ZeroAddress();
        if (requestHash == bytes32(0)) revert ZeroRequestHash();
        if (_validations[requestHash].validatorAddress != address(0)) revert RequestExists(requestHash);
        if (!isOwnerOrOperator(_identityRegistry, agentId, msg.sender)) revert NotAgentOwnerOrOperator(agentId, msg.sender);

        Validation storage v = _validations[requestHash];
        v.validatorAddress = validatorAddress;
        v.agentId = agentId;
        v.lastUpdate = uint64(block.timestamp);
        _agentValidations[agentId].push(requestHash);
        _validatorRequests[validatorAddress].push(requestHash);
        emit ValidationRequest(validatorAddress, agentId, requestURI, requestHash);
    }

    /// @notice The requested validator's answer (0 failed … 100 passed); a later call
    ///         replaces the stored response, tag and hash (the events keep the history).
    function validationResponse(
        bytes32 requestHash,
        uint8 response,
        string calldata responseURI,
        bytes32 responseHash,
        string calldata tag
    ) external {
        Validation storage v = _validations[requestHash];
        address validator = v.validatorAddress;
        if (validator == address(0)) revert UnknownRequest(requestHash);
        if (msg.sender != validator) revert NotValidator(requestHash, msg.sender, validator);
        if (response > 100) revert ResponseOutOfRange(response);
        v.response = response;
        v.hasResponse = true;
        v.responseHash = responseHash;
        v.tag = tag;
        v.lastUpdate = uint64(block.timestamp);
        emit ValidationResponse(validator, v.agentId, requestHash, response, responseURI, responseHash, tag);
    }

    // ------------------------------------------------------------------ views

    function getValidationStatus(bytes32 requestHash)
        external
        view
        returns (
            address validatorAddress,
            uint256 agentId,
            uint8 response,
            bytes32 responseHash,
            string memory tag,
            uint256 lastUpdate
        )
    {
        Validation storage v = _validations[requestHash];
        if (v.validatorAddress == address(0)) revert UnknownRequest(requestHash);
        return (v.validatorAddress, v.agentId, v.response, v.responseHash, v.tag, v.lastUpdate);
    }

    /// @notice How many of the agent's requests have a response, and their mean (rounded
    ///         down); only responses from `validatorAddresses` (all when empty) carrying
    ///         `tag` (any when empty).
    function getSummary(uint256 agentId, address[] calldata validatorAddresses, string calldata tag)
        external
        view
        returns (uint64 count, uint8 averageResponse)
    {
        bytes32 tagHash = keccak256(bytes(tag));
        bool anyTag = bytes(tag).length == 0;
        uint256 total;
        bytes32[] storage hashes = _agentValidations[agentId];
        for (uint256 i; i < hashes.length; ++i) {
            Validation storage v = _validations[hashes[i]];
            if (!v.hasResponse) continue;
            if (!anyTag && keccak256(bytes(v.tag)) != tagHash) continue;
            if (validatorAddresses.length != 0 && !_contains(validatorAddresses, v.validatorAddress)) continue;
            total += v.response;
            ++count;
        }
        if (count != 0) averageResponse = uint8(total / count);
    }

    function getAgentValidations(uint256 agentId) external view returns (bytes32[] memory requestHashes) {
        return _agentValidations[agentId];
    }

    function getValidatorRequests(address validatorAddress) external view returns (bytes32[] memory requestHashes) {
        return _validatorRequests[validatorAddress];
    }

    function _contains(address[] calldata list, address a) internal pure returns (bool) {
        for (uint256 i; i < list.length; ++i) {
            if (list[i] == a) return true;
        }
        return false;
    }
}
