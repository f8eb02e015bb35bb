// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Fixture} from "./utils/Fixture.sol";
import {
    AgentAccount, TransferAuthorization, PermitAuthorization, StepPlace
} from "../src/AgentAccount.sol";
import {DisputeGame} from "../src/DisputeGame.sol";
import {TestToken} from "../src/dev/TestToken.sol";
import {Breach, DisputeKind, DisputeStatus, Policy} from "../src/CovenantTypes.sol";

/// @notice Signatures that move money (issue 16): the agent's signer authorizes an EIP-3009
///         transfer or an EIP-2612 permit only through its account, under the policy, as a
///         numbered call with a stored leaf — so coverage, cover-by time and
///         `proveUntracedCall` apply to it exactly as to `execute`.
contract AgentAccountSignaturesTest is Fixture {
    AgentAccount internal account;
    uint256 internal constant SIGNER_PK = 0x51617E;
    uint256 internal constant OWNER_PK = 0x0A11CE;
    address internal signer;
    address internal payOwner;
    address internal facilitator = address(0xFAC1);

    bytes4 internal constant TWA = bytes4(
        keccak256("transferWithAuthorization(address,address,uint256,uint256,uint256,bytes32,uint8,bytes32,bytes32)")
    );
    bytes4 internal constant PERMIT = bytes4(keccak256("permit(address,address,uint256,uint256,uint8,bytes32,bytes32)"));

    /// arguments of every call, by sequence (what a prover reads from `Executed`)
    mapping(uint32 => DisputeGame.AccountCall) internal calls;

    function setUp() public override {
        super.setUp();
        signer = vm.addr(SIGNER_PK);
        payOwner = vm.addr(OWNER_PK);
        address[] memory targets = new address[](2);
        targets[0] = address(token);
        targets[1] = shop;
        bytes4[] memory selectors = new bytes4[](2);
        selectors[0] = TWA;
        selectors[1] = PERMIT;
        Policy memory p = Policy(MAX_VALUE, WINDOW, COMMIT_DEADLINE, targets, selectors, DAILY_BUDGET);
        bytes32[] memory d = _digests();
        vm.prank(payOwner);
        agentId = registry.register(operator, signer, keccak256("manifest-pay"), d, p, POLICY_DELAY);
        _bond(agentId, payOwner, BOND_ETH, 0);
        account = AgentAccount(payable(registry.accountOf(agentId)));
        token.mint(address(account), 1_000e18);
        vm.deal(signer, 1 ether);
    }

    // ---------------------------------------------------------------- helpers

    function _place() internal view returns (StepPlace memory) {
        uint32 seq = account.callCount();
        return StepPlace(100 + seq, keccak256(abi.encode("prev", seq)), registry.agent(agentId).activeVersion, seq);
    }

    function _transfer(address to, uint256 value, bytes32 nonce) internal view returns (TransferAuthorization memory) {
        return TransferAuthorization(address(token), to, value, 0, block.timestamp + 300, nonce);
    }

    function _authorize(TransferAuthorization memory a) internal returns (bytes32 leaf, bytes32 digest) {
        StepPlace memory pl = _place();
        uint32 seq = account.callCount();
        vm.prank(signer);
        (leaf, digest) = account.authorizeTransfer(a, pl);
        bytes memory data = abi.encodePacked(TWA, abi.encode(address(account), a.to, a.value, a.validAfter, a.validBefore, a.nonce));
        calls[seq] = DisputeGame.AccountCall(address(token), 0, keccak256(data), pl.stepIndex, pl.prevHash, pl.policyVersion, pl.nonce);
    }

    function _digest(TransferAuthorization memory a) internal view returns (bytes32) {
        bytes32 structHash = keccak256(
            abi.encode(token.TRANSFER_WITH_AUTHORIZATION_TYPEHASH(), address(account), a.to, a.value, a.validAfter, a.validBefore, a.nonce)
        );
        return keccak256(abi.encodePacked(hex"1901", token.DOMAIN_SEPARATOR(), structHash));
    }

    function _settle(TransferAuthorization memory a, bytes memory sig) internal {
        vm.prank(facilitator);
        token.transferWithAuthorization(address(account), a.to, a.value, a.validAfter, a.validBefore, a.nonce, sig);
    }

    function _proveUntraced(address who, uint32 callSeq) internal returns (uint256 disputeId) {
        bytes32 salt = keccak256(abi.encode("untraced", who, callSeq));
        _commitEvidence(who, game.untracedCallEvidence(agentId, callSeq), salt);
        vm.roll(block.number + 1);
        vm.prank(who);
        disputeId = game.proveUntracedCall(agentId, callSeq, calls[callSeq], salt);
    }

    // ---------------------------------------------------------------- tests

    function test_authorizeTransfer_isANumberedCallWithItsLeaf_andTheTokenSettlesIt() public {
        TransferAuthorization memory a = _transfer(shop, 25e18, keccak256("n1"));
        (bytes32 leaf, bytes32 digest) = _authorize(a);
        assertEq(account.callCount(), 1);
        assertEq(digest, _digest(a), "the account computes the token's own EIP-712 digest");
        assertTrue(account.isCallLeaf(0, leaf));
        // the leaf is the wallet step {to: token, value: 0, data: selector ‖ fields}
        DisputeGame.AccountCall memory c = calls[0];
        assertEq(leaf, account.callLeaf(c.to, c.value, c.dataHash, c.stepIndex, c.prevHash, c.nonce, c.policyVersion));
        assertEq(account.isValidSignature(digest, ""), bytes4(0x1626ba7e));
        _settle(a, "");
        assertEq(token.balanceOf(shop), 25e18);
        // once: the token's nonce is spent
        vm.expectRevert(abi.encodeWithSelector(TestToken.AuthorizationUsedAlready.selector, address(account), a.nonce));
        _settle(a, "");
    }

    function test_offPolicyAuthorizations_areRefused() public {
        // recipient not on the allowlist
        StepPlace memory pl = _place();
        vm.prank(signer);
        vm.expectRevert(abi.encodeWithSelector(AgentAccount.PolicyViolation.selector, Breach.TargetNotAllowed));
        account.authorizeTransfer(_transfer(dex, 1e18, "x"), pl);
        // a token that is not an allowed target
        TestToken other = new TestToken();
        TransferAuthorization memory a = _transfer(shop, 1e18, "x");
        a.token = address(other);
        vm.prank(signer);
        vm.expectRevert(abi.encodeWithSelector(AgentAccount.PolicyViolation.selector, Breach.TargetNotAllowed));
        account.authorizeTransfer(a, pl);
        // too long-lived, or already expired
        a = _transfer(shop, 1e18, "x");
        a.validBefore = block.timestamp + 1 days + 1;
        vm.prank(signer);
        vm.expectRevert(abi.encodeWithSelector(AgentAccount.AuthorizationWindow.selector, a.validBefore, block.timestamp + 1 days));
        account.authorizeTransfer(a, pl);
        a.validBefore = block.timestamp;
        vm.prank(signer);
        vm.expectRevert(abi.encodeWithSelector(AgentAccount.AuthorizationWindow.selector, a.validBefore, block.timestamp + 1 days));
        account.authorizeTransfer(a, pl);
        // only the signer
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(AgentAccount.NotSigner.selector, stranger));
        account.authorizeTransfer(_transfer(shop, 1e18, "x"), pl);
        // the policy's selectors: an agent whose policy allows only `transfer` cannot sign one
        uint256 plain = _registerAgent(owner, operator, signer);
        _bond(plain, owner, BOND_ETH, 0);
        AgentAccount plainAccount = AgentAccount(payable(registry.accountOf(plain)));
        a = _transfer(shop, 1e18, "x");
        a.token = shop; // an allowed target there; the selector is not allowed
        uint32 version = registry.agent(plain).activeVersion;
        vm.prank(signer);
        vm.expectRevert(abi.encodeWithSelector(AgentAccount.PolicyViolation.selector, Breach.SelectorNotAllowed));
        plainAccount.authorizeTransfer(a, StepPlace(0, bytes32(0), version, 0));
        assertEq(account.callCount(), 0, "nothing recorded");
    }

    function test_unauthorizedDigests_areRejected_andTheSignerKeyCannotSign() public {
        TransferAuthorization memory a = _transfer(shop, 25e18, keccak256("n1"));
        // the signer key's own signature over the digest is worth nothing
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(SIGNER_PK, _digest(a));
        assertEq(account.isValidSignature(_digest(a), abi.encodePacked(r, s, v)), bytes4(0xffffffff));
        vm.expectRevert(abi.encodeWithSelector(TestToken.InvalidSignature.selector, address(account)));
        _settle(a, abi.encodePacked(r, s, v));
        // the owner's signature still works (ERC-8004 setAgentWallet relies on it)
        bytes32 h = keccak256("owner proves control");
        (v, r, s) = vm.sign(OWNER_PK, h);
        assertEq(account.isValidSignature(h, abi.encodePacked(r, s, v)), bytes4(0x1626ba7e));
    }

    function testFuzz_approvedDigest_validOnlyForExactlyThoseFields(
        address to2,
        uint256 value2,
        uint256 after2,
        uint256 before2,
        bytes32 nonce2,
        uint8 which
    ) public {
        TransferAuthorization memory a = _transfer(shop, 25e18, keccak256("n1"));
        _authorize(a);
        TransferAuthorization memory b = _transfer(shop, 25e18, keccak256("n1"));
        which = uint8(bound(which, 0, 4));
        if (which == 0) b.to = to2;
        if (which == 1) b.value = value2;
        if (which == 2) b.validAfter = after2;
        if (which == 3) b.validBefore = before2;
        if (which == 4) b.nonce = nonce2;
        bool same = keccak256(abi.encode(a)) == keccak256(abi.encode(b));
        assertEq(account.isValidSignature(_digest(b), "") == bytes4(0x1626ba7e), same);
        // a permit with the same numbers is a different digest
        bytes32 permitDigest = keccak256(
            abi.encodePacked(
                hex"1901",
                token.DOMAIN_SEPARATOR(),
                keccak256(abi.encode(token.PERMIT_TYPEHASH(), address(account), b.to, b.value, uint256(0), b.validBefore))
            )
        );
        assertEq(account.isValidSignature(permitDigest, ""), bytes4(0xffffffff));
        // and after validBefore, not even the approved one
        vm.warp(a.validBefore + 1);
        assertEq(account.isValidSignature(_digest(a), ""), bytes4(0xffffffff));
    }

    function test_authorizePermit_thenTheSpenderPulls() public {
        PermitAuthorization memory p = PermitAuthorization(address(token), shop, 40e18, token.nonces(address(account)), block.timestamp + 600);
        StepPlace memory pl = _place();
        vm.prank(signer);
        (, bytes32 digest) = account.authorizePermit(p, pl);
        assertEq(account.callCount(), 1);
        assertEq(account.isValidSignature(digest, "x"), bytes4(0x1626ba7e));
        vm.prank(stranger);
        token.permit(address(account), shop, 40e18, p.deadline, bytes(""));
        assertEq(token.allowance(address(account), shop), 40e18);
        vm.prank(shop);
        token.transferFrom(address(account), shop, 40e18);
        assertEq(token.balanceOf(shop), 40e18);
        // a spender not on the allowlist is refused
        p.spender = dex;
        StepPlace memory pl2 = _place();
        vm.prank(signer);
        vm.expectRevert(abi.encodeWithSelector(AgentAccount.PolicyViolation.selector, Breach.TargetNotAllowed));
        account.authorizePermit(p, pl2);
    }

    function test_untracedAuthorization_isProvenAndSlashed_noVote() public {
        uint64 t0 = uint64(block.timestamp);
        TransferAuthorization memory a = _transfer(shop, 25e18, keccak256("n1"));
        _authorize(a);
        _settle(a, "");
        // nobody commits a batch covering it: past the cover-by time it is provable
        vm.warp(t0 + COMMIT_DEADLINE + 1);
        uint256 bondBefore = vault.bondOf(agentId).eth;
        uint256 d = _proveUntraced(challenger, 0);
        DisputeGame.Dispute memory dispute = game.dispute(d);
        assertEq(uint8(dispute.kind), uint8(DisputeKind.UntracedAction));
        assertEq(uint8(dispute.status), uint8(DisputeStatus.Slashed));
        assertEq(vault.bondOf(agentId).eth, bondBefore / 2, "SLASH_BPS of the bond");
        assertGt(vault.ethCredits(challenger), 0, "the challenger is paid");
        // and while it is uncovered the account stops itself
        TransferAuthorization memory b = _transfer(shop, 1e18, keccak256("n2"));
        StepPlace memory pl = _place();
        vm.prank(signer);
        vm.expectRevert();
        account.authorizeTransfer(b, pl);
    }

    /// @dev The call data AgentAccount builds for a transfer authorization (what the prover reads back).
    function _transferData(TransferAuthorization memory a) internal view returns (bytes memory) {
        return abi.encodePacked(TWA, abi.encode(address(account), a.to, a.value, a.validAfter, a.validBefore, a.nonce));
    }

    function _proveAuthorization(address who, uint32 callSeq, bytes memory data) internal returns (uint256 disputeId) {
        bytes32 salt = keccak256(abi.encode("untraced-auth", who, callSeq));
        _commitEvidence(who, game.untracedCallEvidence(agentId, callSeq), salt);
        vm.roll(block.number + 1);
        vm.prank(who);
        disputeId = game.proveUntracedAuthorization(agentId, callSeq, calls[callSeq], data, salt);
    }

    function test_untracedAuthorization_ofTheBondToken_repaysTheOwnerFromTheTokenBond() public {
        _bond(agentId, payOwner, 0, 30e18);
        uint64 t0 = uint64(block.timestamp);
        TransferAuthorization memory a = _transfer(shop, 25e18, keccak256("n1"));
        _authorize(a);
        _settle(a, "");
        vm.warp(t0 + COMMIT_DEADLINE + 1);
        uint256 ethBefore = vault.bondOf(agentId).eth;
        uint256 d = _proveAuthorization(challenger, 0, _transferData(a));
        assertEq(uint8(game.dispute(d).status), uint8(DisputeStatus.Slashed));
        // the 25 tokens the authorization let go come back to the owner first (more than SLASH_BPS of 30)
        assertEq(vault.tokenCredits(payOwner), 25e18, "owner repaid the amount authorized");
        assertEq(vault.bondOf(agentId).token, 5e18);
        assertEq(vault.tokenCredits(challenger), 0, "nothing of the token slash is left to share");
        assertEq(vault.bondOf(agentId).eth, ethBefore / 2, "the ETH bond is slashed as for any untraced call");
        // the owner takes the tokens out
        vm.prank(payOwner);
        vault.claim();
        assertEq(token.balanceOf(payOwner), 25e18);
        // the same call cannot be proven twice, by either path
        vm.expectRevert(DisputeGame.AlreadyProven.selector);
        this.proveAgain(0, _transferData(a));
    }

    function proveAgain(uint32 callSeq, bytes memory data) external {
        vm.prank(challenger);
        game.proveUntracedAuthorization(agentId, callSeq, calls[callSeq], data, keccak256("again"));
    }

    function test_untracedAuthorization_dataMustBeTheCalls_andAnAuthorization() public {
        TransferAuthorization memory a = _transfer(shop, 25e18, keccak256("n1"));
        _authorize(a);
        vm.warp(block.timestamp + COMMIT_DEADLINE + 1);
        // a higher amount than the call authorized: not its data
        TransferAuthorization memory more = _transfer(shop, 999e18, keccak256("n1"));
        more.validBefore = a.validBefore;
        bytes32 salt = keccak256("s");
        _commitEvidence(challenger, game.untracedCallEvidence(agentId, 0), salt);
        vm.roll(block.number + 1);
        vm.prank(challenger);
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.NotTheCall.selector, 0));
        game.proveUntracedAuthorization(agentId, 0, calls[0], _transferData(more), salt);
        // a call whose data is not an authorization's shape (a plain execute to the token)
        bytes memory plain = abi.encodeWithSelector(TWA, address(account), shop, 1e18);
        DisputeGame.AccountCall memory c = calls[0];
        c.dataHash = keccak256(plain);
        vm.prank(challenger);
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.NotAnAuthorization.selector, 0));
        game.proveUntracedAuthorization(agentId, 0, c, plain, salt);
        assertEq(vault.bondOf(agentId).eth, BOND_ETH);
    }

    /// The owner is repaid min(amount, token bond), never more; the vault's token books balance.
    function testFuzz_untracedAuthorization_repaysAtMostTheTokenBond(uint256 amount, uint256 tokenBond, bool permit) public {
        amount = bound(amount, 1, 1_000e18);
        tokenBond = bound(tokenBond, 0, 2_000e18);
        _bond(agentId, payOwner, 0, tokenBond);
        bytes memory data;
        if (permit) {
            PermitAuthorization memory p = PermitAuthorization(address(token), shop, amount, token.nonces(address(account)), block.timestamp + 300);
            StepPlace memory pl = _place();
            vm.prank(signer);
            account.authorizePermit(p, pl);
            data = abi.encodePacked(PERMIT, abi.encode(address(account), p.spender, p.value, p.nonce, p.deadline));
            calls[0] = DisputeGame.AccountCall(address(token), 0, keccak256(data), pl.stepIndex, pl.prevHash, pl.policyVersion, pl.nonce);
        } else {
            TransferAuthorization memory a = _transfer(shop, amount, keccak256("fuzz"));
            _authorize(a);
            data = _transferData(a);
        }
        vm.warp(block.timestamp + COMMIT_DEADLINE + 1);
        uint256 vaultTokens = token.balanceOf(address(vault));
        _proveAuthorization(challenger, 0, data);
        uint256 owed = amount < tokenBond ? amount : tokenBond;
        uint256 share = tokenBond * SLASH_BPS / 10_000;
        uint256 slashed = owed > share ? owed : share;
        assertEq(vault.tokenCredits(payOwner), owed);
        assertEq(vault.bondOf(agentId).token, tokenBond - slashed);
        // nothing leaves the vault on a slash: the token is bonded, credited or burned
        assertEq(token.balanceOf(address(vault)), vaultTokens);
        assertEq(
            vault.bondOf(agentId).token + vault.tokenCredits(payOwner) + vault.tokenCredits(challenger)
                + vault.tokenCredits(redistribution) + vault.burnedToken(),
            tokenBond
        );
    }

    function test_honestAuthorization_coveredInTime_isNeverSlashable() public {
        uint64 t0 = uint64(block.timestamp);
        TransferAuthorization memory a = _transfer(shop, 25e18, keccak256("n1"));
        _authorize(a);
        _settle(a, "");
        vm.warp(t0 + COMMIT_DEADLINE / 4);
        uint64 seq = traceLog.nextSequence(agentId);
        vm.prank(operator);
        traceLog.commitCovering(agentId, seq, keccak256("root"), _da(agentId, seq), 1, 1);
        vm.warp(t0 + COMMIT_DEADLINE + 1);
        bytes32 salt = keccak256("s");
        _commitEvidence(challenger, game.untracedCallEvidence(agentId, 0), salt);
        vm.roll(block.number + 1);
        vm.prank(challenger);
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.CallCovered.selector, 0, 1));
        game.proveUntracedCall(agentId, 0, calls[0], salt);
        assertEq(vault.bondOf(agentId).eth, BOND_ETH);
    }

    function testFuzz_neverAnAuthorizationThePolicyForbids(address to, uint256 value, uint64 life, bool permit) public {
        life = uint64(bound(life, 1, 2 days));
        StepPlace memory pl = _place();
        bool allowed = (to == shop || to == address(token)) && life <= 1 days;
        vm.prank(signer);
        if (!allowed) vm.expectRevert();
        if (permit) {
            account.authorizePermit(PermitAuthorization(address(token), to, value, 0, block.timestamp + life), pl);
        } else {
            account.authorizeTransfer(TransferAuthorization(address(token), to, value, 0, block.timestamp + life, "n"), pl);
        }
        assertEq(account.callCount(), allowed ? 1 : 0);
    }
}
