// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Fixture} from "./Fixture.sol";
import {DisputeGame} from "../../src/DisputeGame.sol";
import {ForkManager} from "../../src/ForkManager.sol";
import {DisputeKind} from "../../src/CovenantTypes.sol";

/// @notice The fixture with the fork backstop on: quorum verdicts wait out an escalation
///         window, and helpers to decide, contest, redeem and resolve. Four verifiers of
///         equal stake; in the stories verifiers 0-2 (75 %) collude and verifier 3 is honest.
abstract contract ForkFixture is Fixture {
    uint64 internal constant ESCALATION_WINDOW = 1 days;
    address internal contester = address(0xC0575);
    address internal holder = address(0x4011);
    uint64 internal seq;

    function _escalationWindow() internal pure virtual override returns (uint64) {
        return ESCALATION_WINDOW;
    }

    function setUp() public virtual override {
        super.setUp();
        seq = _honestBatch();
    }

    function _fraudDispute() internal returns (uint256) {
        return _openDispute(challenger, DisputeKind.InferenceFraud, agentId, seq, 1, bytes32(0));
    }

    /// @dev Verifiers `from` (a bit mask over verifierPks) vote `fault` on `disputeId`.
    function _voteMask(uint256 disputeId, uint256 mask, bool fault) internal {
        uint256 n;
        for (uint256 i; i < verifierPks.length; ++i) if ((mask >> i) & 1 == 1) ++n;
        DisputeGame.Vote[] memory vs = new DisputeGame.Vote[](n);
        uint256 k;
        for (uint256 i; i < verifierPks.length; ++i) {
            if ((mask >> i) & 1 == 1) vs[k++] = _vote(verifierPks[i], disputeId, fault);
        }
        game.submitVerdicts(disputeId, vs);
    }

    /// @dev Verifiers 0-2 vote `fault`, verifier 3 the opposite: a 75 % verdict of `fault`.
    function _majorityVerdict(uint256 disputeId, bool fault) internal {
        _voteMask(disputeId, 0x8, !fault);
        _voteMask(disputeId, 0x7, fault);
    }

    function _contest(address who, uint256 disputeId) internal returns (uint256 forkId) {
        vm.deal(who, who.balance + FORK_BOND);
        vm.prank(who);
        forkId = forks.contest{value: FORK_BOND}(disputeId);
    }

    function _lock(address who, uint256 forkId, ForkManager.Side side, uint256 amount) internal {
        _giveWork(who, amount);
        vm.prank(who);
        work.approve(address(forks), amount);
        vm.prank(who);
        forks.redeemTokens(forkId, side, amount);
    }

    function _redeemStake(uint256 verifierIndex, uint256 forkId, ForkManager.Side side) internal {
        vm.prank(verifierAddrs[verifierIndex]);
        forks.redeemStake(forkId, side);
    }

    function _resolve(uint256 forkId) internal {
        vm.warp(forks.fork(forkId).endsAt);
        forks.resolve(forkId);
    }

    function _stakeOf(uint256 verifierIndex) internal view returns (uint256) {
        return verifiers.verifier(verifierAddrs[verifierIndex]).stake;
    }
}
