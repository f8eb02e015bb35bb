// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {ERC721URIStorage} from "@openzeppelin/contracts/token/ERC721/extensions/ERC721URIStorage.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";

/// @title IdentityRegistry (ERC-8004 "Trustless Agents", Identity Registry)
/// @notice One ERC-721 token per agent: the token id is the agent id, the token URI (the
///         *agentURI*) resolves to the agent's registration file. Function signatures and
///         events are the standard's (ethereum/ERCs ERCS/erc-8004.md, the Draft that
///         requires EIP-712 and ERC-1271), so any ERC-8004 client reads this registry.
///
///         - `register` mints the next id (0, 1, 2, …) to the caller, with optional
///           on-chain metadata; the reserved `agentWallet` starts as the caller.
///         - `setAgentWallet` changes `agentWallet` only with the new wallet's proof of
///           control: an EIP-712 `AgentWalletSet` signature by the wallet (an EOA) or, for a
///           contract wallet, its ERC-1271 `isValidSignature`. Covenant's AgentAccount
///           answers ERC-1271 for its owner, so an agent's account becomes its agentWallet.
///         - A transfer of the token clears `agentWallet`: the new owner proves a wallet again.
/// @dev    The EIP-712 domain (`ERC8004IdentityRegistry`, version `1`), the typehash
///         `AgentWalletSet(uint256 agentId,address newWallet,address owner,uint256 deadline)`
///         and the five-minute bound on `deadline` follow the reference implementation
///         (erc-8004/erc-8004-contracts v2.0.0), which the standard's text leaves open, so
///         signatures made by existing SDKs verify here.
contract IdentityRegistry is ERC721URIStorage, EIP712 {
    struct MetadataEntry {
        string metadataKey;
        bytes metadataValue;
    }

    bytes32 public constant AGENT_WALLET_SET_TYPEHASH =
        keccak256("AgentWalletSet(uint256 agentId,address newWallet,address owner,uint256 deadline)");
    /// a wallet signature may not be valid for longer than this from the block that uses it
    uint256 public constant MAX_DEADLINE_DELAY = 5 minutes;
    string internal constant AGENT_WALLET_KEY = "agentWallet";
    bytes32 internal constant AGENT_WALLET_KEY_HASH = keccak256(bytes(AGENT_WALLET_KEY));

    uint256 private _nextAgentId;
    mapping(uint256 agentId => address) private _agentWallet;
    mapping(uint256 agentId => mapping(string metadataKey => bytes)) private _metadata;

    event Registered(uint256 indexed agentId, string agentURI, address indexed owner);
    event MetadataSet(uint256 indexed agentId, string indexed indexedMetadataKey, string metadataKey, bytes metadataValue);
    event URIUpdated(uint256 indexed agentId, string newURI, address indexed updatedBy);

    error NotAgentOwnerOrOperator(uint256 agentId, address caller);
    error ReservedMetadataKey(string metadataKey);
    error ZeroWallet();
    error SignatureExpired(uint256 deadline, uint256 now_);
    error DeadlineTooFar(uint256 deadline, uint256 latest);
    error InvalidWalletSignature(address wallet);

    constructor() ERC721("ERC-8004 Agent Identity", "AGENT") EIP712("ERC8004IdentityRegistry", "1") {}

    // ------------------------------------------------------------------ registration

    function register() external returns (uint256 agentId) {
        agentId = _register("", new MetadataEntry[](0));
    }

    function register(string calldata agentURI) external returns (uint256 agentId) {
        agentId = _register(agentURI, new MetadataEntry[](0));
    }

    function register(string calldata agentURI, MetadataEntry[] calldata metadata) external returns (uint256 agentId) {
        agentId = _register(agentURI, metadata);
    }

    /// @dev Every effect and event first, the mint (whose receiver check calls out to a
    ///      contract owner) last.
    function _register(string memory agentURI, MetadataEntry[] memory metadata) internal returns (uint256 agentId) {
        agentId = _nextAgentId++;
        if (bytes(agentURI).length != 0) _setTokenURI(agentId, agentURI);
        _agentWallet[agentId] = msg.sender;
        emit Registered(agentId, agentURI, msg.sender);
        emit MetadataSet(agentId, AGENT_WALLET_KEY, AGENT_WALLET_KEY, abi.encodePacked(msg.sender));
        for (uint256 i; i < metadata.length; ++i) {
            _storeMetadata(agentId, metadata[i].metadataKey, metadata[i].metadataValue);
        }
        _safeMint(msg.sender, agentId);
    }

    /// @notice The registration file moved (a new URI).
    function setAgentURI(uint256 agentId, string calldata newURI) external {
        _requireOwnerOrOperator(agentId);
        _setTokenURI(agentId, newURI);
        emit URIUpdated(agentId, newURI, msg.sender);
    }

    // ------------------------------------------------------------------ metadata

    function getMetadata(uint256 agentId, string memory metadataKey) external view returns (bytes memory) {
        if (keccak256(bytes(metadataKey)) == AGENT_WALLET_KEY_HASH) {
            address wallet = _agentWallet[agentId];
            return wallet == address(0) ? bytes("") : abi.encodePacked(wallet);
        }
        return _metadata[agentId][metadataKey];
    }

    function setMetadata(uint256 agentId, string memory metadataKey, bytes memory metadataValue) external {
        _requireOwnerOrOperator(agentId);
        _storeMetadata(agentId, metadataKey, metadataValue);
    }

    function _storeMetadata(uint256 agentId, string memory metadataKey, bytes memory metadataValue) internal {
        if (keccak256(bytes(metadataKey)) == AGENT_WALLET_KEY_HASH) revert ReservedMetadataKey(metadataKey);
        _metadata[agentId][metadataKey] = metadataValue;
        emit MetadataSet(agentId, metadataKey, metadataKey, metadataValue);
    }

    // ------------------------------------------------------------------ agent wallet

    function getAgentWallet(uint256 agentId) external view returns (address) {
        return _agentWallet[agentId];
    }

    /// @notice Point `agentWallet` at `newWallet`, which proves it agrees: `signature` is its
    ///         EIP-712 signature of `agentWalletDigest` (an EOA, or an EIP-7702
    ///         delegated EOA), or a signature its ERC-1271 `isValidSignature` accepts.
    function setAgentWallet(uint256 agentId, address newWallet, uint256 deadline, bytes calldata signature) external {
        address owner = _requireOwnerOrOperator(agentId);
        if (newWallet == address(0)) revert ZeroWallet();
        if (block.timestamp > deadline) revert SignatureExpired(deadline, block.timestamp);
        if (deadline > block.timestamp + MAX_DEADLINE_DELAY) revert DeadlineTooFar(deadline, block.timestamp + MAX_DEADLINE_DELAY);
        bytes32 digest = _agentWalletDigest(agentId, newWallet, owner, deadline);
        if (!_walletSigned(newWallet, digest, signature)) revert InvalidWalletSignature(newWallet);
        _agentWallet[agentId] = newWallet;
        emit MetadataSet(agentId, AGENT_WALLET_KEY, AGENT_WALLET_KEY, abi.encodePacked(newWallet));
    }

    function unsetAgentWallet(uint256 agentId) external {
        _requireOwnerOrOperator(agentId);
        _clearWallet(agentId);
    }

    /// @notice The EIP-712 digest `newWallet` signs to become agent `agentId`'s wallet while
    ///         `owner` owns the agent (not part of the standard; for clients and tests).
    function agentWalletDigest(uint256 agentId, address newWallet, address owner, uint256 deadline)
        external
        view
        returns (bytes32)
    {
        return _agentWalletDigest(agentId, newWallet, owner, deadline);
    }

    function _agentWalletDigest(uint256 agentId, address newWallet, address owner, uint256 deadline)
        internal
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(keccak256(abi.encode(AGENT_WALLET_SET_TYPEHASH, agentId, newWallet, owner, deadline)));
    }

    /// @dev An ECDSA signature by the wallet's key first (an EOA, also one with EIP-7702 code),
    ///      else the wallet contract's ERC-1271 answer.
    function _walletSigned(address wallet, bytes32 digest, bytes calldata signature) internal view returns (bool) {
        (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecoverCalldata(digest, signature);
        if (err == ECDSA.RecoverError.NoError && recovered == wallet) return true;
        return wallet.code.length != 0 && SignatureChecker.isValidERC1271SignatureNowCalldata(wallet, digest, signature);
    }

    function _clearWallet(uint256 agentId) internal {
        delete _agentWallet[agentId];
        emit MetadataSet(agentId, AGENT_WALLET_KEY, AGENT_WALLET_KEY, "");
    }

    // ------------------------------------------------------------------ ERC-721 hooks

    /// @dev A transfer (not a mint) clears the verified wallet: the new owner must prove one.
    function _update(address to, uint256 tokenId, address auth) internal override returns (address from) {
        from = super._update(to, tokenId, auth);
        if (from != address(0) && to != address(0) && _agentWallet[tokenId] != address(0)) _clearWallet(tokenId);
    }

    /// @dev The owner, an operator approved for all the owner's tokens, or the token's
    ///      approved address; reverts for a token that does not exist.
    function _requireOwnerOrOperator(uint256 agentId) internal view returns (address owner) {
        owner = _requireOwned(agentId);
        if (!_isAuthorized(owner, msg.sender, agentId)) revert NotAgentOwnerOrOperator(agentId, msg.sender);
    }
}
