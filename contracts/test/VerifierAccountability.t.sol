// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ForkFixture} from "./utils/ForkFixture.sol";
import {AgentAccount} from "../src/AgentAccount.sol";
import {DisputeGame} from "../src/DisputeGame.sol";
import {ForkManager} from "../src/ForkManager.sol";
import {DisputeKind, DisputeStatus} from "../src/CovenantTypes.sol";

/// @notice Verifier accountability without a fork (issue 12): a vote the chain proves false
///         costs the verifier its whole stake, at once, by anyone's proof; an honest vote
///         can never be proven false.
contract VerifierAccountabilityTest is ForkFixture {
    AgentAccount internal account;
    DisputeGame.AccountCall internal call0;
    bytes32 internal leaf0;

    function setUp() public override {
        super.setUp();
        account = AgentAccount(payable(registry.accountOf(agentId)));
        vm.deal(address(account), 5 ether);
        // call 0: the agent's account pays the shop
        uint64 index = traceLog.nextStepIndex(agentId);
        bytes32 prev = keccak256("prev");
        uint32 version = registry.agent(agentId).activeVersion;
        vm.prank(agentWallet);
        (leaf0,) = account.execute(shop, 0.5 ether, "", index, prev, version, 7);
        call0 = DisputeGame.AccountCall(shop, 0.5 ether, keccak256(""), index, prev, version, 7);
    }

    /// @dev A quorum UntracedAction dispute on account call 0 (its leaf is the subject), voted
    ///      "not at fault" by verifiers 0-2 and "at fault" by verifier 3.
    function _falselyAcquitted() internal returns (uint256 id) {
        id = _openDispute(challenger, DisputeKind.UntracedAction, agentId, 0, 0, leaf0);
        _majorityVerdict(id, false);
    }

    function _pastCoverBy() internal {
        (, uint64 coverBy) = account.callAt(0);
        vm.warp(coverBy + 1);
    }

    function test_falseVerdict_onAnUntracedCall_isSlashedWithoutAFork() public {
        uint256 id = _falselyAcquitted();
        vm.expectRevert(abi.encodeWithSelector(ForkManager.NotProvable.selector, id));
        forks.proveFalseVerdict(id, verifierAddrs[0], 0); // not provable before the cover-by time
        _pastCoverBy(); // no batch covers the call by its deadline

        uint256 total = verifiers.totalStake();
        vm.expectEmit(address(forks));
        emit ForkManager.FalseVerdictProven(id, verifierAddrs[0], stranger, MIN_STAKE);
        vm.prank(stranger);
        assertEq(forks.proveFalseVerdict(id, verifierAddrs[0], 0), MIN_STAKE);
        assertEq(_stakeOf(0), 0, "the false voter's whole stake");
        assertEq(verifiers.totalStake(), total - MIN_STAKE);
        assertEq(forks.tokenCredits(stranger), MIN_STAKE * REWARD_BPS / 10_000, "the prover's reward");
        assertEq(forks.burnedTokens(), MIN_STAKE - MIN_STAKE * REWARD_BPS / 10_000);
        vm.expectRevert(abi.encodeWithSelector(ForkManager.NothingToSlash.selector, verifierAddrs[0]));
        forks.proveFalseVerdict(id, verifierAddrs[0], 0);

        // the honest verifier voted "at fault": nothing to prove against it
        vm.expectRevert(abi.encodeWithSelector(ForkManager.NotAFalseVerdict.selector, id, verifierAddrs[3]));
        forks.proveFalseVerdict(id, verifierAddrs[3], 0);
        // no fork needed for the others either, and no fork is pending
        forks.proveFalseVerdict(id, verifierAddrs[1], 0);
        forks.proveFalseVerdict(id, verifierAddrs[2], 0);
        assertEq(forks.pendingForks(), 0);
        assertEq(_stakeOf(3), MIN_STAKE, "the honest verifier is never slashed");
    }

    function test_falseVerdict_provenThroughTheOnChainUntracedProof() public {
        uint256 id = _falselyAcquitted();
        _pastCoverBy();
        // someone proves the call untraced on chain (instant tier); the fact is then permanent
        bytes32 salt = keccak256("untraced");
        _commitEvidence(stranger, game.untracedCallEvidence(agentId, 0), salt);
        vm.roll(block.number + 1);
        vm.prank(stranger);
        game.proveUntracedCall(agentId, 0, call0, salt);
        assertTrue(game.faultProven(game.untracedCallEvidence(agentId, 0)));
        // even once the call is covered late, the proven fact stands
        vm.prank(operator);
        traceLog.cover(agentId, 1);
        assertEq(forks.proveFalseVerdict(id, verifierAddrs[0], 0), MIN_STAKE);
    }

    function test_honestAcquittal_ofACoveredCall_cannotBeProvenFalse() public {
        // the operator covers the call in time: "not at fault" is the truth
        uint64 next = traceLog.nextSequence(agentId);
        vm.prank(operator);
        traceLog.commitCovering(agentId, next, keccak256("root"), _da(agentId, next), 3, 1);
        uint256 id = _falselyAcquitted();
        _pastCoverBy();
        vm.expectRevert(abi.encodeWithSelector(ForkManager.NotProvable.selector, id));
        forks.proveFalseVerdict(id, verifierAddrs[0], 0);
        assertEq(_stakeOf(0), MIN_STAKE);
    }

    function test_falseVerdict_mustNameTheDisputedCall() public {
        // a second call, the dispute about call 0, the proof naming call 1
        vm.prank(agentWallet);
        account.execute(shop, 0.1 ether, "", call0.stepIndex + 1, leaf0, call0.policyVersion, 8);
        uint256 id = _falselyAcquitted();
        _pastCoverBy();
        vm.warp(block.timestamp + 2 hours);
        vm.expectRevert(abi.encodeWithSelector(ForkManager.NotProvable.selector, id));
        forks.proveFalseVerdict(id, verifierAddrs[0], 1);
        vm.expectRevert(abi.encodeWithSelector(ForkManager.NotProvable.selector, id));
        forks.proveFalseVerdict(id, verifierAddrs[0], 9); // no such call
        // a dispute of another kind is the quorum's (or a fork's) to judge
        uint256 fraud = _fraudDispute();
        _majorityVerdict(fraud, false);
        vm.expectRevert(abi.encodeWithSelector(ForkManager.NotProvable.selector, fraud));
        forks.proveFalseVerdict(fraud, verifierAddrs[0], 0);
    }

    function test_doubleVerdict_isSlashed() public {
        uint256 id = _fraudDispute();
        bytes memory yes = _sig(verifierPks[1], game.verdictDigest(id, true));
        bytes memory no = _sig(verifierPks[1], game.verdictDigest(id, false));
        vm.prank(stranger);
        assertEq(forks.proveDoubleVerdict(id, yes, no), MIN_STAKE);
        assertEq(_stakeOf(1), 0);
        // two verifiers' opposite verdicts, or one verdict twice, prove nothing
        bytes memory otherNo = _sig(verifierPks[2], game.verdictDigest(id, false));
        bytes memory yes3 = _sig(verifierPks[3], game.verdictDigest(id, true));
        vm.expectRevert(ForkManager.NotADoubleVerdict.selector);
        forks.proveDoubleVerdict(id, yes3, otherNo);
        vm.expectRevert(ForkManager.NotADoubleVerdict.selector);
        forks.proveDoubleVerdict(id, yes3, yes3);
        vm.expectRevert(ForkManager.NotADoubleVerdict.selector);
        forks.proveDoubleVerdict(id, hex"1234", otherNo);
        assertEq(_stakeOf(2), MIN_STAKE);
        assertEq(_stakeOf(3), MIN_STAKE);
    }
}
