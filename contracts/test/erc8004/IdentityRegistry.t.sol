// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {TestBase} from "../utils/TestBase.sol";
import {IdentityRegistry} from "../../src/erc8004/IdentityRegistry.sol";
import {IERC721Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";

/// @notice A contract wallet (ERC-1271) that accepts exactly one digest.
contract OneDigestWallet {
    bytes32 public accepted;

    function accept(bytes32 digest) external {
        accepted = digest;
    }

    function isValidSignature(bytes32 hash, bytes calldata) external view returns (bytes4) {
        return hash == accepted && accepted != bytes32(0) ? bytes4(0x1626ba7e) : bytes4(0xffffffff);
    }
}

/// @notice A contract owner that registers a second agent from inside the mint's receiver callback.
contract ReenteringRegistrant {
    IdentityRegistry internal immutable reg;
    uint256 public innerId = type(uint256).max;
    bool internal entered;

    constructor(IdentityRegistry r) {
        reg = r;
    }

    function registerOuter() external returns (uint256) {
        return reg.register("ipfs://outer");
    }

    function onERC721Received(address, address, uint256, bytes calldata) external returns (bytes4) {
        if (!entered) {
            entered = true;
            innerId = reg.register("ipfs://inner");
        }
        return this.onERC721Received.selector;
    }
}

contract IdentityRegistryTest is TestBase {
    IdentityRegistry internal reg;

    uint256 internal constant OWNER_PK = 0xA11CE;
    uint256 internal constant WALLET_PK = 0xBA11E7;
    uint256 internal constant MALLORY_PK = 0xBAD;
    address internal owner;
    address internal wallet;
    address internal mallory;
    address internal operator = address(0x0BE2);
    address internal stranger = address(0x57A9);

    function setUp() public {
        vm.warp(1_700_000_000);
        reg = new IdentityRegistry();
        owner = vm.addr(OWNER_PK);
        wallet = vm.addr(WALLET_PK);
        mallory = vm.addr(MALLORY_PK);
    }

    // ---------------------------------------------------------------- helpers

    function _register(address by, string memory uri) internal returns (uint256 id) {
        vm.prank(by);
        id = reg.register(uri);
    }

    function _sig(uint256 pk, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(pk, digest);
        return abi.encodePacked(r, s, v);
    }

    /// @dev The EIP-712 digest built by hand from the standard's names, as an SDK builds it.
    function _digest(uint256 agentId, address newWallet, address agentOwner, uint256 deadline)
        internal
        view
        returns (bytes32)
    {
        bytes32 domain = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("ERC8004IdentityRegistry"),
                keccak256("1"),
                block.chainid,
                address(reg)
            )
        );
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256("AgentWalletSet(uint256 agentId,address newWallet,address owner,uint256 deadline)"),
                agentId,
                newWallet,
                agentOwner,
                deadline
            )
        );
        return keccak256(abi.encodePacked("\x19\x01", domain, structHash));
    }

    function _eqStr(string memory a, string memory b) internal pure returns (bool) {
        return keccak256(bytes(a)) == keccak256(bytes(b));
    }

    // ---------------------------------------------------------------- registration

    function test_register_allThreeForms() public {
        vm.expectEmit(address(reg));
        emit IdentityRegistry.Registered(0, "", owner);
        vm.prank(owner);
        uint256 a = reg.register();

        vm.prank(owner);
        uint256 b = reg.register("ipfs://b");

        IdentityRegistry.MetadataEntry[] memory md = new IdentityRegistry.MetadataEntry[](2);
        md[0] = IdentityRegistry.MetadataEntry("agentName", bytes("treasury"));
        md[1] = IdentityRegistry.MetadataEntry("covenant", abi.encode(address(0xC0), uint256(7)));
        vm.expectEmit(address(reg));
        emit IdentityRegistry.Registered(2, "https://c.example/agent.json", stranger);
        vm.expectEmit(address(reg));
        emit IdentityRegistry.MetadataSet(2, "agentWallet", "agentWallet", abi.encodePacked(stranger));
        vm.expectEmit(address(reg));
        emit IdentityRegistry.MetadataSet(2, "agentName", "agentName", bytes("treasury"));
        vm.prank(stranger);
        uint256 c = reg.register("https://c.example/agent.json", md);

        assertEq(a, 0, "ids start at 0");
        assertEq(b, 1);
        assertEq(c, 2);
        assertEq(reg.ownerOf(a), owner);
        assertEq(reg.ownerOf(c), stranger);
        assertEq(reg.balanceOf(owner), 2);
        assertTrue(_eqStr(reg.tokenURI(a), ""), "no URI yet");
        assertTrue(_eqStr(reg.tokenURI(b), "ipfs://b"), "tokenURI is the agentURI");
        assertEq(reg.getAgentWallet(b), owner, "the wallet starts as the owner");
        assertEq(reg.getMetadata(b, "agentWallet"), abi.encodePacked(owner));
        assertEq(reg.getMetadata(c, "agentName"), bytes("treasury"));
        assertEq(reg.getMetadata(c, "covenant"), abi.encode(address(0xC0), uint256(7)));
        assertEq(reg.getMetadata(a, "agentName"), bytes(""), "unset key reads empty");
    }

    function test_register_reservedWalletKeyRefused() public {
        IdentityRegistry.MetadataEntry[] memory md = new IdentityRegistry.MetadataEntry[](1);
        md[0] = IdentityRegistry.MetadataEntry("agentWallet", abi.encodePacked(mallory));
        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(IdentityRegistry.ReservedMetadataKey.selector, "agentWallet"));
        reg.register("ipfs://x", md);
        assertEq(reg.balanceOf(owner), 0, "nothing minted");
    }

    function test_register_reentrantOwnerGetsTwoDistinctAgents() public {
        ReenteringRegistrant r = new ReenteringRegistrant(reg);
        uint256 outer = r.registerOuter();
        uint256 inner = r.innerId();
        assertEq(outer, 0);
        assertEq(inner, 1);
        assertEq(reg.ownerOf(outer), address(r));
        assertEq(reg.ownerOf(inner), address(r));
        assertTrue(_eqStr(reg.tokenURI(outer), "ipfs://outer"));
        assertTrue(_eqStr(reg.tokenURI(inner), "ipfs://inner"));
        assertEq(reg.getAgentWallet(outer), address(r));
    }

    function testFuzz_register_idsAreSequential(uint8 n) public {
        n = uint8(bound(n, 1, 40));
        for (uint256 i; i < n; ++i) {
            address who = address(uint160(0x1000 + i));
            assertEq(_register(who, ""), i, "the next id");
            assertEq(reg.ownerOf(i), who);
            assertEq(reg.getAgentWallet(i), who);
        }
    }

    // ---------------------------------------------------------------- URI and metadata

    function test_setAgentURI_ownerAndOperatorsOnly() public {
        uint256 id = _register(owner, "ipfs://v1");
        vm.expectEmit(address(reg));
        emit IdentityRegistry.URIUpdated(id, "ipfs://v2", owner);
        vm.prank(owner);
        reg.setAgentURI(id, "ipfs://v2");
        assertTrue(_eqStr(reg.tokenURI(id), "ipfs://v2"));

        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IdentityRegistry.NotAgentOwnerOrOperator.selector, id, stranger));
        reg.setAgentURI(id, "ipfs://evil");

        vm.prank(owner);
        reg.setApprovalForAll(operator, true);
        vm.prank(operator);
        reg.setAgentURI(id, "ipfs://v3");
        assertTrue(_eqStr(reg.tokenURI(id), "ipfs://v3"), "an operator approved for all may");

        vm.prank(owner);
        reg.approve(stranger, id);
        vm.prank(stranger);
        reg.setAgentURI(id, "ipfs://v4");
        assertTrue(_eqStr(reg.tokenURI(id), "ipfs://v4"), "the token's approved address may");

        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721NonexistentToken.selector, 99));
        reg.setAgentURI(99, "ipfs://none");
    }

    function test_setMetadata() public {
        uint256 id = _register(owner, "");
        vm.expectEmit(address(reg));
        emit IdentityRegistry.MetadataSet(id, "agentName", "agentName", bytes("pay-bot"));
        vm.prank(owner);
        reg.setMetadata(id, "agentName", bytes("pay-bot"));
        assertEq(reg.getMetadata(id, "agentName"), bytes("pay-bot"));

        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(IdentityRegistry.ReservedMetadataKey.selector, "agentWallet"));
        reg.setMetadata(id, "agentWallet", abi.encodePacked(mallory));
        assertEq(reg.getAgentWallet(id), owner, "the reserved key is untouched");

        vm.prank(mallory);
        vm.expectRevert(abi.encodeWithSelector(IdentityRegistry.NotAgentOwnerOrOperator.selector, id, mallory));
        reg.setMetadata(id, "agentName", bytes("hijacked"));
        assertEq(reg.getMetadata(id, "agentName"), bytes("pay-bot"));
    }

    // ---------------------------------------------------------------- agent wallet

    function test_setAgentWallet_eoaSignature() public {
        uint256 id = _register(owner, "ipfs://a");
        uint256 deadline = block.timestamp + 60;
        bytes32 digest = _digest(id, wallet, owner, deadline);
        assertEq(reg.agentWalletDigest(id, wallet, owner, deadline), digest, "the digest SDKs build");
        vm.expectEmit(address(reg));
        emit IdentityRegistry.MetadataSet(id, "agentWallet", "agentWallet", abi.encodePacked(wallet));
        vm.prank(owner);
        reg.setAgentWallet(id, wallet, deadline, _sig(WALLET_PK, digest));
        assertEq(reg.getAgentWallet(id), wallet);
        assertEq(reg.getMetadata(id, "agentWallet"), abi.encodePacked(wallet));
    }

    /// The cheater: points its agent at someone else's wallet, or reuses that wallet's
    /// signature for another agent, another owner or after the deadline. Every try fails.
    function test_setAgentWallet_withoutTheWalletsConsentFails() public {
        uint256 honest = _register(owner, "ipfs://honest");
        uint256 rogue = _register(mallory, "ipfs://rogue");
        uint256 deadline = block.timestamp + 60;

        // mallory signs for the wallet herself
        vm.prank(mallory);
        vm.expectRevert(abi.encodeWithSelector(IdentityRegistry.InvalidWalletSignature.selector, wallet));
        reg.setAgentWallet(rogue, wallet, deadline, _sig(MALLORY_PK, _digest(rogue, wallet, mallory, deadline)));

        // she replays the wallet's signature made for the honest agent
        bytes memory honestSig = _sig(WALLET_PK, _digest(honest, wallet, owner, deadline));
        vm.prank(mallory);
        vm.expectRevert(abi.encodeWithSelector(IdentityRegistry.InvalidWalletSignature.selector, wallet));
        reg.setAgentWallet(rogue, wallet, deadline, honestSig);

        // she is not the honest agent's owner
        vm.prank(mallory);
        vm.expectRevert(abi.encodeWithSelector(IdentityRegistry.NotAgentOwnerOrOperator.selector, honest, mallory));
        reg.setAgentWallet(honest, wallet, deadline, honestSig);

        // garbage signature
        vm.prank(mallory);
        vm.expectRevert(abi.encodeWithSelector(IdentityRegistry.InvalidWalletSignature.selector, wallet));
        reg.setAgentWallet(rogue, wallet, deadline, hex"deadbeef");

        assertEq(reg.getAgentWallet(rogue), mallory, "unchanged");
        assertEq(reg.getAgentWallet(honest), owner, "unchanged");

        // the honest owner's own use of it still works
        vm.prank(owner);
        reg.setAgentWallet(honest, wallet, deadline, honestSig);
        assertEq(reg.getAgentWallet(honest), wallet);
    }

    function test_setAgentWallet_deadline() public {
        uint256 id = _register(owner, "");
        uint256 late = block.timestamp - 1;
        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(IdentityRegistry.SignatureExpired.selector, late, block.timestamp));
        reg.setAgentWallet(id, wallet, late, _sig(WALLET_PK, _digest(id, wallet, owner, late)));

        uint256 far = block.timestamp + 5 minutes + 1;
        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(IdentityRegistry.DeadlineTooFar.selector, far, block.timestamp + 5 minutes));
        reg.setAgentWallet(id, wallet, far, _sig(WALLET_PK, _digest(id, wallet, owner, far)));

        vm.prank(owner);
        vm.expectRevert(IdentityRegistry.ZeroWallet.selector);
        reg.setAgentWallet(id, address(0), block.timestamp, "");

        // exactly now and exactly five minutes ahead are both accepted
        vm.prank(owner);
        reg.setAgentWallet(id, wallet, block.timestamp, _sig(WALLET_PK, _digest(id, wallet, owner, block.timestamp)));
        uint256 edge = block.timestamp + 5 minutes;
        vm.prank(owner);
        reg.setAgentWallet(id, mallory, edge, _sig(MALLORY_PK, _digest(id, mallory, owner, edge)));
        assertEq(reg.getAgentWallet(id), mallory);
    }

    function test_setAgentWallet_erc1271ContractWallet() public {
        uint256 id = _register(owner, "");
        OneDigestWallet cw = new OneDigestWallet();
        uint256 deadline = block.timestamp + 30;
        bytes32 digest = _digest(id, address(cw), owner, deadline);

        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(IdentityRegistry.InvalidWalletSignature.selector, address(cw)));
        reg.setAgentWallet(id, address(cw), deadline, hex"01");

        cw.accept(digest);
        vm.prank(owner);
        reg.setAgentWallet(id, address(cw), deadline, hex"01");
        assertEq(reg.getAgentWallet(id), address(cw));
    }

    function test_transferClearsWallet_newOwnerMustProveAgain() public {
        uint256 id = _register(owner, "ipfs://a");
        uint256 deadline = block.timestamp + 60;
        vm.prank(owner);
        reg.setAgentWallet(id, wallet, deadline, _sig(WALLET_PK, _digest(id, wallet, owner, deadline)));

        vm.expectEmit(address(reg));
        emit IdentityRegistry.MetadataSet(id, "agentWallet", "agentWallet", "");
        vm.prank(owner);
        reg.transferFrom(owner, mallory, id);
        assertEq(reg.ownerOf(id), mallory);
        assertEq(reg.getAgentWallet(id), address(0), "cleared on transfer");
        assertEq(reg.getMetadata(id, "agentWallet"), bytes(""));

        // the old owner's signature (made for the old owner) does not carry over
        bytes memory old = _sig(WALLET_PK, _digest(id, wallet, owner, deadline));
        vm.prank(mallory);
        vm.expectRevert(abi.encodeWithSelector(IdentityRegistry.InvalidWalletSignature.selector, wallet));
        reg.setAgentWallet(id, wallet, deadline, old);
    }

    function test_unsetAgentWallet() public {
        uint256 id = _register(owner, "");
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IdentityRegistry.NotAgentOwnerOrOperator.selector, id, stranger));
        reg.unsetAgentWallet(id);
        vm.expectEmit(address(reg));
        emit IdentityRegistry.MetadataSet(id, "agentWallet", "agentWallet", "");
        vm.prank(owner);
        reg.unsetAgentWallet(id);
        assertEq(reg.getAgentWallet(id), address(0));
    }

    /// Only the wallet's own key makes it the agent's wallet.
    function testFuzz_setAgentWallet_onlyTheWalletsKey(uint256 signerPk, uint256 walletPk) public {
        signerPk = bound(signerPk, 1, 2 ** 128);
        walletPk = bound(walletPk, 1, 2 ** 128);
        address w = vm.addr(walletPk);
        uint256 id = _register(owner, "");
        uint256 deadline = block.timestamp + 1;
        bytes memory sig = _sig(signerPk, _digest(id, w, owner, deadline));
        vm.prank(owner);
        if (vm.addr(signerPk) != w) vm.expectRevert(abi.encodeWithSelector(IdentityRegistry.InvalidWalletSignature.selector, w));
        reg.setAgentWallet(id, w, deadline, sig);
        assertEq(reg.getAgentWallet(id), vm.addr(signerPk) == w ? w : owner);
    }

    /// A signature is accepted exactly while now <= deadline <= now + 5 minutes.
    function testFuzz_setAgentWallet_deadlineWindow(uint256 deadline, uint256 at) public {
        at = bound(at, 1_700_000_000, 1_800_000_000);
        deadline = bound(deadline, at - 1 days, at + 1 days);
        uint256 id = _register(owner, "");
        bytes memory sig = _sig(WALLET_PK, _digest(id, wallet, owner, deadline));
        vm.warp(at);
        bool ok = deadline >= at && deadline <= at + 5 minutes;
        vm.prank(owner);
        if (!ok) vm.expectRevert();
        reg.setAgentWallet(id, wallet, deadline, sig);
        assertEq(reg.getAgentWallet(id), ok ? wallet : owner);
    }
}
