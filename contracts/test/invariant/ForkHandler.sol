// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ForkFixture} from "../utils/ForkFixture.sol";
import {DisputeGame} from "../../src/DisputeGame.sol";
import {ForkManager} from "../../src/ForkManager.sol";
import {DisputeStatus} from "../../src/CovenantTypes.sol";

/// @notice Drives the fork backstop at random: disputes decided by random votes, contested,
///         redeemed into by stake and by token holders, resolved, finalized; verifiers join,
///         try to leave, sign double verdicts; payouts claimed. Every call that may
///         legitimately fail is tried and caught; what the handler sees as it acts (a payout
///         before resolution, a slashed voter left with stake) is counted for the checks.
contract ForkHandler is ForkFixture {
    uint256 internal constant MAX_VERIFIERS = 10;

    uint256 public currentTime;
    uint256 public currentBlock;
    mapping(bytes32 => uint256) public hits;

    uint256[] public decided; // dispute ids that reached a verdict
    uint256[] public openIds; // dispute ids opened without a verdict yet
    address[] public holders; // every account the handler gave WorkToken to
    mapping(address => bool) internal _isHolder;

    uint256 public claimedEth;
    uint256 public claimedTokens;
    uint256 public resolvedStands;
    uint256 public resolvedOverturned;
    /// a voter slashed in the canonical child that kept stake, or a redeemer of the losing child
    uint256 public slashedKeptStake;
    /// a resolution whose dispute did not end as the canonical child says
    uint256 public wrongSettlements;

    constructor() {
        setUp();
        for (uint256 i; i < verifierAddrs.length; ++i) _track(verifierAddrs[i]);
        _track(address(this));
        _track(contester);
        _track(holder);
        _track(stranger);
        _track(mallory);
        currentTime = block.timestamp;
        currentBlock = block.number;
    }

    modifier pinned() {
        vm.warp(currentTime);
        vm.roll(currentBlock);
        _;
        currentTime = block.timestamp;
        currentBlock = block.number;
    }

    function _track(address a) internal {
        if (!_isHolder[a]) {
            _isHolder[a] = true;
            holders.push(a);
        }
    }

    function holderCount() external view returns (uint256) {
        return holders.length;
    }

    function verifierCount() external view returns (uint256) {
        return verifierAddrs.length;
    }

    function verifierAt(uint256 i) external view returns (address) {
        return verifierAddrs[i];
    }

    function system() external view returns (address, address, address, address, address) {
        return (address(game), address(forks), address(verifiers), address(work), address(vault));
    }

    function _actor(uint256 seed) internal pure returns (address) {
        return [address(0xC0575), address(0x4011), address(0x57A9), address(0xBAD0)][seed % 4];
    }

    // ---------------------------------------------------------------- actions

    /// A fresh honest batch, a fraud dispute on it, and votes from two random sets of verifiers.
    function decide(uint256 forMask, uint256 againstMask) external pinned {
        if (verifiers.eligibleStake() == 0) return; // every verifier slashed or gone
        seq = _honestBatch();
        uint256 id = _fraudDispute();
        uint256 all = (1 << verifierAddrs.length) - 1;
        againstMask &= all;
        _voteMask(id, againstMask, false);
        if (game.dispute(id).status == DisputeStatus.Open) _voteMask(id, forMask & all & ~againstMask, true);
        if (game.dispute(id).status == DisputeStatus.Decided) decided.push(id);
        else openIds.push(id);
        hits["decide"]++;
    }

    function expire(uint256 seed) external pinned {
        if (openIds.length == 0) return;
        uint256 id = openIds[seed % openIds.length];
        DisputeGame.Dispute memory d = game.dispute(id);
        if (d.status != DisputeStatus.Open) return;
        vm.warp(d.deadline + 1);
        game.resolveExpired(id);
        if (game.dispute(id).status == DisputeStatus.Decided) decided.push(id);
        hits["expire"]++;
    }

    function contest(uint256 seed, uint256 who) external pinned {
        if (decided.length == 0) return;
        uint256 id = decided[seed % decided.length];
        address c = _actor(who);
        vm.deal(c, c.balance + FORK_BOND);
        vm.prank(c);
        try forks.contest{value: FORK_BOND}(id) {
            hits["contest"]++;
        } catch {
            vm.deal(c, c.balance - FORK_BOND);
        }
    }

    function redeemStake(uint256 forkSeed, uint256 verifierSeed, bool overturn) external pinned {
        if (forks.forkCount() == 0) return;
        uint256 forkId = 1 + forkSeed % forks.forkCount();
        address v = verifierAddrs[verifierSeed % verifierAddrs.length];
        vm.prank(v);
        try forks.redeemStake(forkId, overturn ? ForkManager.Side.Overturned : ForkManager.Side.Stands) {
            hits["redeemStake"]++;
        } catch {}
    }

    function lockTokens(uint256 forkSeed, uint256 who, bool overturn, uint256 amount) external pinned {
        if (forks.forkCount() == 0) return;
        uint256 forkId = 1 + forkSeed % forks.forkCount();
        address a = _actor(who);
        amount = bound(amount, 1, 10 ether);
        work.transfer(a, amount);
        vm.prank(a);
        work.approve(address(forks), amount);
        vm.prank(a);
        try forks.redeemTokens(forkId, overturn ? ForkManager.Side.Overturned : ForkManager.Side.Stands, amount) {
            hits["lockTokens"]++;
        } catch {}
    }

    function resolve(uint256 forkSeed) external pinned {
        if (forks.forkCount() == 0) return;
        uint256 forkId = 1 + forkSeed % forks.forkCount();
        ForkManager.Fork memory f = forks.fork(forkId);
        if (f.canonical != ForkManager.Side.None) return;
        if (block.timestamp < f.endsAt) vm.warp(f.endsAt);
        forks.resolve(forkId);
        ForkManager.Side canonical = forks.canonicalSide(forkId);
        if (canonical == ForkManager.Side.Overturned) resolvedOverturned++;
        else resolvedStands++;
        // the dispute settles as the canonical child says
        bool atFault = f.verdictAtFault != (canonical == ForkManager.Side.Overturned);
        DisputeStatus st = game.dispute(f.disputeId).status;
        if (st != (atFault ? DisputeStatus.Slashed : DisputeStatus.Rejected)) wrongSettlements++;
        // every voter the canonical child slashes, and every stake redeemer of the other, has no stake left
        address[] memory voters = game.votersOf(f.disputeId);
        for (uint256 i; i < voters.length; ++i) {
            uint8 vote = game.voteOf(f.disputeId, voters[i]);
            bool withVerdict = (vote == game.VOTE_FAULT()) == f.verdictAtFault;
            bool slashed = canonical == ForkManager.Side.Overturned ? withVerdict : !withVerdict;
            if (slashed && verifiers.verifier(voters[i]).stake != 0) slashedKeptStake++;
        }
        address[] memory redeemers = forks.stakeRedeemers(forkId);
        for (uint256 i; i < redeemers.length; ++i) {
            if (forks.sideOf(forkId, redeemers[i]) != canonical && verifiers.verifier(redeemers[i]).stake != 0) {
                slashedKeptStake++;
            }
        }
        hits["resolve"]++;
    }

    function finalize(uint256 seed, uint256 dt) external pinned {
        if (decided.length == 0) return;
        uint256 id = decided[seed % decided.length];
        DisputeGame.Dispute memory d = game.dispute(id);
        if (d.status != DisputeStatus.Decided) return;
        if (dt % 2 == 0 && block.timestamp <= d.finalizesAt) vm.warp(d.finalizesAt + 1);
        try game.finalize(id) {
            hits["finalize"]++;
        } catch {}
    }

    function reclaim(uint256 forkSeed, uint256 who) external pinned {
        if (forks.forkCount() == 0) return;
        uint256 forkId = 1 + forkSeed % forks.forkCount();
        address a = _actor(who);
        uint256 amount = forks.tokensLocked(forkId, a);
        vm.prank(a);
        try forks.reclaim(forkId) {
            claimedTokens += amount;
            hits["reclaim"]++;
        } catch {}
    }

    function claim(uint256 who) external pinned {
        address a = who % 5 == 4 ? verifierAddrs[0] : _actor(who);
        uint256 eth = forks.ethCredits(a);
        uint256 tokens = forks.tokenCredits(a);
        vm.prank(a);
        try forks.claim() {
            claimedEth += eth;
            claimedTokens += tokens;
            hits["claim"]++;
        } catch {}
    }

    function leave(uint256 verifierSeed) external pinned {
        address v = verifierAddrs[verifierSeed % verifierAddrs.length];
        VerifierRegistryView memory info = _info(v);
        vm.prank(v);
        if (info.exitRequestedAt == 0) {
            try verifiers.requestExit() {
                hits["requestExit"]++;
            } catch {}
        } else {
            try verifiers.exit() {
                hits["exit"]++;
            } catch {}
        }
    }

    function join(uint256 stake) external pinned {
        if (verifierAddrs.length >= MAX_VERIFIERS) return;
        uint256 pk = 0xF0F0 + verifierAddrs.length;
        address v = vm.addr(pk);
        verifierPks.push(pk);
        verifierAddrs.push(v);
        _track(v);
        _stake(v, bound(stake, MIN_STAKE, 5 ether));
        vm.roll(block.number + 1);
        hits["join"]++;
    }

    function doubleVerdict(uint256 seed, uint256 verifierSeed) external pinned {
        if (decided.length == 0) return;
        uint256 id = decided[seed % decided.length];
        uint256 i = verifierSeed % verifierAddrs.length;
        bytes memory yes = _sig(verifierPks[i], game.verdictDigest(id, true));
        bytes memory no = _sig(verifierPks[i], game.verdictDigest(id, false));
        vm.prank(stranger);
        try forks.proveDoubleVerdict(id, yes, no) {
            hits["doubleVerdict"]++;
        } catch {}
    }

    function warp(uint256 secs) external pinned {
        vm.warp(block.timestamp + bound(secs, 1 minutes, 3 days));
        vm.roll(block.number + 1);
        hits["warp"]++;
    }

    struct VerifierRegistryView {
        uint256 stake;
        uint64 exitRequestedAt;
    }

    function _info(address v) internal view returns (VerifierRegistryView memory r) {
        r.stake = verifiers.verifier(v).stake;
        r.exitRequestedAt = verifiers.verifier(v).exitRequestedAt;
    }
}
